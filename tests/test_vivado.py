"""The Vivado script, run in tclsh with a stand-in for every Vivado command it uses.

The stand-ins record each call (``set_property -dict`` as one call per key), return what the
script reads back, and create the files Vivado would write, so the script runs end to end:
its structure, its values and its quoting are checked without Vivado.
"""
import dataclasses
import json
import os
import random
import shutil
import subprocess

import pytest

from build_dirs import build_dir, meta
from finngen.board import boards, vivado
from finngen.builddir import BuildDir
from finngen.errors import DoesNotFitError, MissingToolError

TCLSH = shutil.which("tclsh")
pytestmark = pytest.mark.skipif(TCLSH is None, reason="tclsh is not installed (apt-get install tcl)")

STANDINS = r"""
set calls {}
proc record {args} { lappend ::calls $args }
proc json {s} {
    set s [string map {\\ \\\\ \" \\\" \n \\n \r \\r \t \\t} $s]
    return "\"[regsub -all {[\x00-\x1f]} $s {?}]\""
}
proc save_calls {} {
    set f [open $::env(FAKE_VIVADO_CALLS) w]
    foreach call $::calls {
        set words {}
        foreach word $call { lappend words [json $word] }
        puts $f "\[[join $words ,]\]"
    }
    close $f
}
foreach cmd {set_property_one create_bd_design apply_bd_automation connect_bd_net connect_bd_intf_net
             update_compile_order assign_bd_address validate_bd_design save_bd_design
             wait_on_run} {
    proc $cmd {args} "record $cmd {*}\$args"
}
foreach getter {get_bd_cells get_bd_pins get_bd_intf_pins get_runs get_files} {
    proc $getter {args} { return [lindex $args end] }
}
# Vivado takes the files as a list, as glob returns them
proc add_files {args} { record add_files {*}[lrange $args 0 end-1] {*}[lindex $args end] }
proc version {args} { return 2023.2 }
proc current_project {} { return project }
proc current_fileset {} { return sources_1 }
proc get_board_parts {args} {
    record get_board_parts {*}$args
    return [expr {[info exists ::env(FAKE_BOARD_PARTS)] ? $::env(FAKE_BOARD_PARTS) : ""}]
}
proc create_project {args} {
    record create_project {*}$args
    lassign [lsearch -all -inline -not -glob $args -*] ::proj_name ::proj_dir
}
proc create_bd_cell {args} {
    record create_bd_cell {*}$args
    return [lindex $args end]
}
proc set_property {args} {
    if {[lindex $args 0] eq "-dict"} {
        foreach {key value} [lindex $args 1] { set_property_one [lindex $args 2] $key $value }
    } else {
        lassign $args key value object
        set_property_one $object $key $value
    }
}
proc run_dir {run} { file join $::proj_dir $::proj_name.runs $run }
proc get_property {key object} {
    switch -- $key {
        PROGRESS { return [expr {[info exists ::env(FAKE_FAIL)] && $::env(FAKE_FAIL) eq $object ? "0%" : "100%"}] }
        DIRECTORY { return [run_dir $object] }
        CONFIG.FREQ_HZ { return 99999001 }
        CONFIG.POLARITY { return ACTIVE_LOW }
        STATS.WNS { return 0.25 }
    }
    error "stand-in get_property: unexpected $key"
}
proc make_wrapper {args} {
    record make_wrapper {*}$args
    return [file join $::proj_dir hdl finngen_wrapper.v]
}
proc touch {path text} {
    file mkdir [file dirname $path]
    set f [open $path w]; puts -nonewline $f $text; close $f
}
proc launch_runs {args} {
    record launch_runs {*}$args
    set run [lindex $args 0]
    if {$run eq "synth_1"} {
        touch [file join $::proj_dir $::proj_name.gen sources_1 bd finngen hw_handoff finngen.hwh] hwh
    } else {
        touch [file join [run_dir $run] finngen_wrapper.bit] bit
    }
}
set script [lindex $argv [expr {[lsearch $argv -source] + 1}]]
set status [catch {source $script} message]
save_calls
if {$status} {
    puts "ERROR: \[stand-in\] $message"
    exit 1
}
"""

INTERFACE = {"in_lanes": 1, "in_width": 8, "in_bits": 8, "out_lanes": 1, "out_width": 16, "out_bits": 10,
             "out_signed": True, "out_beats": 10}


@pytest.fixture(scope="module")
def standins(tmp_path_factory):
    path = tmp_path_factory.mktemp("tcl") / "standins.tcl"
    path.write_text(STANDINS)
    return path


def _build_dir(root, meta, board):
    """A build directory with what the script reads: rtl/*.v and the script itself."""
    build = build_dir(root, model=meta.model, clock_mhz=meta.clock_mhz, interface=meta.interface)
    build.rtl.mkdir()
    build.verilog.write_text("module finngen_accelerator; endmodule\n")
    vivado.write_project(build, board)
    return root


def _meta(model="digits_mlp.nnp", clock=100.0, **interface):
    return meta(model=model, clock_mhz=clock, interface=dict(INTERFACE, **interface))


def _script(directory):
    return directory / "vivado" / vivado.SCRIPT


def _run(standins, directory, env=None):
    """Run the build's script under the stand-ins; return (calls, stdout)."""
    calls = directory / "calls.jsonl"
    result = subprocess.run([TCLSH, str(standins), "-source", str(_script(directory))],
                            env={**os.environ, "FAKE_VIVADO_CALLS": str(calls), **(env or {})},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return [json.loads(line) for line in calls.read_text().splitlines()], result.stdout


def _properties(calls, cell):
    return {c[2]: c[3] for c in calls if c[0] == "set_property_one" and c[1] == cell}


def _index(calls, *prefix):
    return next(i for i, c in enumerate(calls) if c[:len(prefix)] == list(prefix))


def test_pynq_z1_project(standins, tmp_path):
    board = boards.load("pynq-z1")
    out = _build_dir(tmp_path / "build", _meta(), board)
    calls, stdout = _run(standins, out)

    assert ["create_project", "-force", "finngen_overlay", str(out / "vivado" / "project"),
            "-part", "xc7z020clg400-1"] in calls
    assert ["add_files", "-norecurse", str(out / "rtl" / "finngen_accelerator.v")] in calls
    cells = {c[-1]: c[1:-1] for c in calls if c[0] == "create_bd_cell"}
    assert cells["ps"] == ["-type", "ip", "-vlnv", "xilinx.com:ip:processing_system7"]
    assert cells["accelerator"] == ["-type", "module", "-reference", "finngen_accelerator"]
    assert cells["axi_dma_0"] == ["-type", "ip", "-vlnv", "xilinx.com:ip:axi_dma"]
    ps = _properties(calls, "ps")
    assert ps["CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ"] == "100"
    assert ps["CONFIG.PCW_USE_S_AXI_HP0"] == "1" and ps["CONFIG.PCW_S_AXI_HP0_DATA_WIDTH"] == "64"
    dma = _properties(calls, "axi_dma_0")
    assert dma["CONFIG.c_include_sg"] == "0"
    assert (dma["CONFIG.c_m_axis_mm2s_tdata_width"], dma["CONFIG.c_s_axis_s2mm_tdata_width"]) == ("8", "16")
    assert (dma["CONFIG.c_m_axi_mm2s_data_width"], dma["CONFIG.c_m_axi_s2mm_data_width"]) == ("64", "64")
    assert dma["CONFIG.c_sg_length_width"] == "26"
    # both widths are DMA widths: the streams connect directly
    assert ["connect_bd_intf_net", "axi_dma_0/M_AXIS_MM2S", "accelerator/s_axis"] in calls
    assert ["connect_bd_intf_net", "accelerator/m_axis", "axi_dma_0/S_AXIS_S2MM"] in calls
    assert ["connect_bd_net", "ps/FCLK_CLK0", "accelerator/clk"] in calls
    assert ["connect_bd_net", "reset/peripheral_reset", "accelerator/rst"] in calls
    assert ["connect_bd_intf_net", "ps/M_AXI_GP0", "control/S00_AXI"] in calls
    assert ["connect_bd_intf_net", "memory/M00_AXI", "ps/S_AXI_HP0"] in calls
    assert _properties(calls, "accelerator/rst") == {"CONFIG.POLARITY": "ACTIVE_HIGH"}
    assert _properties(calls, "accelerator/clk") == {"CONFIG.FREQ_HZ": "99999001"}

    order = [_index(calls, "validate_bd_design"), _index(calls, "make_wrapper"),
             _index(calls, "launch_runs", "synth_1"), _index(calls, "wait_on_run", "synth_1"),
             _index(calls, "launch_runs", "impl_1", "-to_step", "write_bitstream"),
             _index(calls, "wait_on_run", "impl_1")]
    assert order == sorted(order)
    output = out / "vivado" / "output"
    assert sorted(p.name for p in output.iterdir()) == ["digits_mlp.bit", "digits_mlp.hwh"]
    assert (output / "digits_mlp.bit").read_text() == "bit" and (output / "digits_mlp.hwh").read_text() == "hwh"
    assert "WARNING: no Vivado board files for pynq-z1" in stdout
    assert "Vivado 2022.2 to 2024.2" in _script(out).read_text()


def test_ultrascale_project_with_stream_adapters(standins, tmp_path):
    board = boards.load("zcu104")
    # 24-bit streams: the DMA carries them in 32-bit words through subset converters
    meta = _meta(clock=187.5, in_lanes=3, in_width=24, out_lanes=2, out_width=24, out_bits=10, out_beats=5)
    out = _build_dir(tmp_path / "build", meta, board)
    calls, _ = _run(standins, out, {"FAKE_BOARD_PARTS": "xilinx.com:zcu104:part0:1.1"})

    assert ["create_project", "-force", "finngen_overlay", str(out / "vivado" / "project"),
            "-part", "xczu7ev-ffvc1156-2-e"] in calls
    assert ["get_board_parts", "-quiet", "-latest_file_version", "*:zcu104:*"] in calls
    assert _properties(calls, "project") == {"board_part": "xilinx.com:zcu104:part0:1.1"}
    cells = {c[-1]: c[1:-1] for c in calls if c[0] == "create_bd_cell"}
    assert cells["ps"] == ["-type", "ip", "-vlnv", "xilinx.com:ip:zynq_ultra_ps_e"]
    assert "processing_system7" not in json.dumps(calls)
    automation = next(c for c in calls if c[0] == "apply_bd_automation")
    assert automation[1:3] == ["-rule", "xilinx.com:bd_rule:zynq_ultra_ps_e"]
    assert automation[4] == "apply_board_preset 1"
    ps = _properties(calls, "ps")
    assert ps["CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ"] == "187.5"
    assert ps["CONFIG.PSU__USE__S_AXI_GP2"] == "1" and ps["CONFIG.PSU__SAXIGP2__DATA_WIDTH"] == "128"
    dma = _properties(calls, "axi_dma_0")
    assert (dma["CONFIG.c_m_axis_mm2s_tdata_width"], dma["CONFIG.c_s_axis_s2mm_tdata_width"]) == ("32", "32")
    assert (dma["CONFIG.c_m_axi_mm2s_data_width"], dma["CONFIG.c_addr_width"]) == ("128", "64")
    assert _properties(calls, "to_accelerator") == {
        "CONFIG.S_TDATA_NUM_BYTES": "4", "CONFIG.M_TDATA_NUM_BYTES": "3", "CONFIG.TDATA_REMAP": "tdata[23:0]",
        "CONFIG.S_HAS_TLAST": "1", "CONFIG.M_HAS_TLAST": "1", "CONFIG.TLAST_REMAP": "tlast[0]"}
    assert _properties(calls, "from_accelerator") == {
        "CONFIG.S_TDATA_NUM_BYTES": "3", "CONFIG.M_TDATA_NUM_BYTES": "4",
        "CONFIG.TDATA_REMAP": "8'b00000000,tdata[23:0]",
        "CONFIG.S_HAS_TLAST": "1", "CONFIG.M_HAS_TLAST": "1", "CONFIG.TLAST_REMAP": "tlast[0]"}
    assert ["connect_bd_intf_net", "axi_dma_0/M_AXIS_MM2S", "to_accelerator/S_AXIS"] in calls
    assert ["connect_bd_intf_net", "to_accelerator/M_AXIS", "accelerator/s_axis"] in calls
    assert ["connect_bd_intf_net", "from_accelerator/M_AXIS", "axi_dma_0/S_AXIS_S2MM"] in calls
    assert ["connect_bd_net", "ps/pl_clk0", "from_accelerator/aclk"] in calls
    assert ["connect_bd_intf_net", "memory/M00_AXI", "ps/S_AXI_HP0_FPD"] in calls
    assert (out / "vivado" / "output" / "digits_mlp.bit").exists()


NASTY = 'a b\t"q" \'s\' [exit 3] $env(HOME) ${x} {open \\ ; # }} \\\n{'


def test_names_and_paths_stay_inert(standins, tmp_path):
    board = dataclasses.replace(boards.load("pynq-z1"), name=f"board {NASTY}", part=f"xc7z020 {NASTY}")
    out = _build_dir(tmp_path / f"build {NASTY}".replace("\n", " ").replace("/", "_"),
                     _meta(model=f"model {NASTY}.nnp"), board)
    calls, stdout = _run(standins, out)
    create = next(c for c in calls if c[0] == "create_project")
    assert create[3:] == [str(out / "vivado" / "project"), "-part", f"xc7z020 {NASTY}"]
    assert ["add_files", "-norecurse", str(out / "rtl" / "finngen_accelerator.v")] in calls
    assert f"overlay {vivado.overlay_name(_meta(model=f'model {NASTY}.nnp'))} for model {NASTY}.nnp on " \
           f"board {NASTY} (xc7z020 {NASTY}," in stdout
    (bit,) = (out / "vivado" / "output").glob("*.bit")
    assert bit.stem == vivado.overlay_name(_meta(model=f"model {NASTY}.nnp"))
    assert bit.stem.startswith("model_a_b__q_") and "$" not in bit.stem and " " not in bit.stem


def test_every_string_is_one_literal_word(tmp_path):
    rng = random.Random(5)
    alphabet = "ab {}[]$\\\"';#\n\t\r\x01\x7fé€"
    texts = ["", "{", "}", "\\", "a\\", "\\\n", "$x", "[exit 3]", "{a} b", "#c"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(300)]
    script = tmp_path / "words.tcl"
    script.write_text("".join(f"lappend words {vivado.tcl_word(t)}\n" for t in texts)
                      + "foreach w $words { puts [binary encode hex [encoding convertto utf-8 $w]] }\n",
                      encoding="utf-8")
    result = subprocess.run([TCLSH, str(script)], capture_output=True, text=True, timeout=30,
                            env={**os.environ, "LC_ALL": "C.UTF-8"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:-1] == [t.encode().hex() for t in texts]


def test_too_wide_a_stream_does_not_fit():
    assert vivado.dma_width(24, "input", "") == 32
    with pytest.raises(DoesNotFitError, match="2048 bits wide"):
        vivado.dma_layout(dict(INTERFACE, in_width=2048))


def _fake_vivado(bindir, standins):
    """A ``vivado`` on PATH that runs the script under the stand-ins."""
    bindir.mkdir()
    exe = bindir / "vivado"
    exe.write_text(f"#!/bin/sh\nexec {TCLSH} {standins} \"$@\"\n")
    exe.chmod(0o755)
    return bindir


def test_synth_runs_vivado_and_logs(standins, tmp_path, monkeypatch, capsys):
    out = _build_dir(tmp_path / "build", _meta(), boards.load("pynq-z2"))
    bindir = _fake_vivado(tmp_path / "bin", standins)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_VIVADO_CALLS", str(tmp_path / "calls.jsonl"))
    assert vivado.synth(BuildDir(out)) == out / "vivado" / "output"
    assert (out / "vivado" / "output" / "digits_mlp.bit").exists()
    err = capsys.readouterr().err
    assert "finngen: implementation and bitstream" in err
    assert "finngen: implementation and bitstream" in (out / "vivado" / "vivado.log").read_text()

    monkeypatch.setenv("FAKE_FAIL", "impl_1")
    with pytest.raises(vivado.VivadoError, match="impl_1 failed"):
        vivado.synth(BuildDir(out))


def test_synth_without_vivado_says_what_to_run(tmp_path, monkeypatch):
    out = _build_dir(tmp_path / "my build", _meta(), boards.load("pynq-z1"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MissingToolError) as error:
        vivado.synth(BuildDir(out))
    line = error.value.line()
    assert "vivado is not on PATH" in line and "2022.2 to 2024.2" in line
    assert f"cd '{out}' && vivado -mode batch -source vivado/build_overlay.tcl" in line
