"""finngen build refuses bad targets clearly and never leaves a half-written directory."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from examples_models import MODELS
from finngen import cli
from finngen.builddir import TOP, BuildDir
from finngen.errors import DoesNotFitError, UsageError

MLP = str(MODELS / "digits_mlp.nnp")

TINY_BOARD = """name: tiny
part: xc7z010clg400-1
ps: zynq-7000
clock_mhz: 100
dma_width_bits: 64
resources: {lut: 3000, ff: 6000, bram36: 8, dsp: 10}
"""


def _build(tmp_path, capsys, *args, out="out"):
    code = cli.main(["build", MLP, "--out", str(tmp_path / out), "--verify", "0", *args])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("args,code,phrase", [
    (["--fps", "-3", "--board", "pynq-z1"], UsageError.exit_code, "--fps '-3' is not a positive number"),
    (["--fps", "fast", "--board", "pynq-z1"], UsageError.exit_code, "is not a positive number"),
    (["--fps", "100", "--board", "pynq-z9"], UsageError.exit_code, "unknown board 'pynq-z9'"),
    (["--fps", "100", "--board", "pynq-z1", "--clock", "5000"], UsageError.exit_code, "--clock 5000 MHz is out of range"),
    (["--fps", "1e12", "--board", "pynq-z1"], DoesNotFitError.exit_code, "the highest that fits is"),
])
def test_bad_targets(tmp_path, capsys, args, code, phrase):
    got, err = _build(tmp_path, capsys, *args)
    errors = [line for line in err.splitlines() if line.startswith("finngen: error: ")]
    assert got == code and len(errors) == 1 and phrase in errors[0]
    assert not list(tmp_path.iterdir()), "nothing written"


@pytest.mark.slow
def test_does_not_fit_states_the_best_fps(tmp_path, capsys):
    (tmp_path / "tiny.yaml").write_text(TINY_BOARD)
    code, err = _build(tmp_path, capsys, "--fps", "10000000", "--board", str(tmp_path / "tiny.yaml"))
    assert code == DoesNotFitError.exit_code
    best = float(err.split("the highest that fits is ")[1].split(" FPS")[0].replace(",", ""))
    code, err = _build(tmp_path, capsys, "--fps", str(int(best)), "--board", str(tmp_path / "tiny.yaml"))
    assert code == 0, err
    code, err = _build(tmp_path, capsys, "--fps", "max", "--board", str(tmp_path / "tiny.yaml"), out="max")
    assert code == 0, err


@pytest.mark.slow
def test_existing_directory_needs_force_and_is_replaced_whole(tmp_path, capsys):
    code, _ = _build(tmp_path, capsys, "--fps", "1000", "--board", "pynq-z1")
    assert code == 0
    report = BuildDir.open(tmp_path / "out").report_json.read_text()
    code, err = _build(tmp_path, capsys, "--fps", "1000", "--board", "pynq-z1")
    assert code == UsageError.exit_code and "already exists" in err and "--force" in err
    code, err = _build(tmp_path, capsys, "--fps", "1e12", "--board", "pynq-z1", "--force")
    assert code == DoesNotFitError.exit_code
    assert BuildDir.open(tmp_path / "out").report_json.read_text() == report, "a failed build keeps the old one"
    code, _ = _build(tmp_path, capsys, "--fps", "2000", "--board", "pynq-z1", "--force")
    assert code == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["out"], "no temporary directories"


def test_interrupted_build_leaves_nothing(tmp_path, capsys, monkeypatch):
    from finngen import build

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(build, "_write_rtl", interrupt)
    code, err = _build(tmp_path, capsys, "--fps", "1000", "--board", "pynq-z1")
    assert code == 130 and "interrupted" in err
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_failed_forced_build_keeps_the_old_one(tmp_path, capsys, monkeypatch):
    from finngen import build
    assert _build(tmp_path, capsys, "--fps", "1000", "--board", "pynq-z1")[0] == 0
    old = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    for failure, code in [(KeyboardInterrupt, 130), (ValueError, 1)]:
        def fail(*args, **kwargs):
            raise failure("while writing the report")
        monkeypatch.setattr(build.report, "summary", fail)     # the last step inside the staged directory
        assert _build(tmp_path, capsys, "--fps", "2000", "--board", "pynq-z1", "--force")[0] == code
        assert {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == old


@pytest.mark.slow
def test_folding_file_is_written_and_accepted(tmp_path, capsys):
    """At --fps 5000 the cheapest plan (16,384 cycles) is not built: the plan at 8,192 cycles
    gives twice the frames for a few percent more LUTs, and the build says so. The folding
    file it writes then fixes the plan, with no choice made."""
    code = cli.main(["build", MLP, "--out", str(tmp_path / "out"), "--verify", "0", "--fps", "5000", "--board", "pynq-z1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    folding = tmp_path / "out" / "folding.yaml"
    plan = BuildDir.open(tmp_path / "out").read_report()["plan"]
    assert plan["faster"] and plan["cheapest"]["cycles_per_frame"] == 16384 and plan["chosen"]["cycles_per_frame"] == 8192
    assert 0 < plan["more_lut"] <= plan["margin"]
    assert f"(a faster plan than the 5,000 FPS asked: +100.0% FPS for {plan['more_lut']:+.1%} LUT over the cheapest" in out
    assert "a faster plan than the 5,000 FPS asked" in BuildDir.open(tmp_path / "out").report_html.read_text()
    first = BuildDir.open(tmp_path / "out").read_report()["predicted"]
    # the folding fixes the rate: no --fps needed, and the report gives the rate it makes
    code = cli.main(["build", MLP, "--out", str(tmp_path / "again"), "--verify", "0", "--board", "pynq-z1",
                     "--folding", str(folding)])
    out, err = capsys.readouterr()
    assert code == 0, err
    again = BuildDir.open(tmp_path / "again")
    assert again.folding.read_text() == folding.read_text()
    assert again.meta.target_fps is None and again.read_report()["predicted"] == first
    assert again.read_report()["plan"] is None and "faster plan" not in out
    assert f"{first['fps']:,.0f} FPS predicted" in out
    assert "rate fixed by the folding file" in again.report_html.read_text()
    code, err = _build(tmp_path, capsys, "--board", "pynq-z1", out="neither")
    assert code == UsageError.exit_code and "give --fps" in err and "--folding" in err
    folding.write_text(folding.read_text().replace("pe: ", "pe: 9", 1))     # 9P divides no layer
    code, err = _build(tmp_path, capsys, "--fps", "5000", "--board", "pynq-z1", "--folding", str(folding), out="bad")
    assert code == UsageError.exit_code and "does not divide" in err


def test_run_rtl_needs_a_build_directory(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 8, 8), np.float32))
    code = cli.main(["run", MLP, "--backend", "rtl", "--input", str(tmp_path / "x.npy"),
                     "--output", str(tmp_path / "y.npy")])
    assert code == UsageError.exit_code and "runs a build directory" in capsys.readouterr().err


@pytest.mark.rtl
def test_one_verified_frame_is_checked_without_a_period(tmp_path, capsys):
    out = tmp_path / "one"
    code = cli.main(["build", MLP, "--fps", "20000", "--board", "pynq-z1", "--out", str(out), "--verify", "1"])
    printed, err = capsys.readouterr()
    assert code == 0, err
    verification = BuildDir.open(out).read_report()["verification"]
    assert verification["frames"] == 1 and verification["bit_exact"]
    assert verification["sim_cycles_per_frame"] is None, "one frame gives no frame period"
    assert "RTL bit exact on 1 frame" in printed and "measured" not in printed
    # and finngen verify takes one frame too (the build's compiled simulation is reused)
    assert cli.main(["verify", str(out), "--frames", "1"]) == 0
    printed = capsys.readouterr().out
    assert "RTL == golden model: yes (1 frame)" in printed and "RTL == nnabla (float32, bit for bit): yes" in printed
    assert "measuring needs 2 or more frames" in printed


def _processes_below(pid) -> dict:
    """pid -> command line of the living descendants of ``pid``."""
    parents = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{entry}/stat").read()
            cmdline = open(f"/proc/{entry}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
        if state != "Z":
            parents[int(entry)] = (int(ppid), cmdline)
    below, todo = {}, [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, cmdline) in parents.items():
            if ppid == parent:
                below[child] = cmdline
                todo.append(child)
    return below


def _alive(pid) -> bool:
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@pytest.mark.rtl
@pytest.mark.slow
# while the C++ compiler builds Verilator's model (cocotb's make runs it), and while that model simulates
@pytest.mark.parametrize("phase", ["cc1plus", TOP])
def test_sigterm_stops_the_simulation_and_leaves_nothing(tmp_path, phase):
    """SIGTERM reaches finngen alone (as ``kill`` sends it); what it started must die with it."""
    out = tmp_path / "out"
    build = subprocess.Popen([sys.executable, "-m", "finngen.cli", "build", MLP, "--fps", "20000",
                              "--board", "pynq-z1", "--out", str(out), "--verify", "100000"],
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and build.poll() is None:
            below = _processes_below(build.pid)
            if any(os.path.basename(cmdline.split(" ")[0]) == phase for cmdline in below.values()):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"{phase} never ran: {build.communicate()[1]}")
        build.send_signal(signal.SIGTERM)
        err = build.communicate(timeout=60)[1]
    finally:
        build.kill()
    assert build.returncode == 143 and err.splitlines()[-1] == "finngen: interrupted"
    assert list(tmp_path.iterdir()) == [], "no build directory and no temporary one"
    assert not [cmdline for pid, cmdline in below.items() if _alive(pid)], "no process outlives the build"
