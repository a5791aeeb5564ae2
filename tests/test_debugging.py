"""Debugging a build: DIR/sim's own tests, per-stage probes, one stage alone, waves, timeouts.

One digits CNN build (window, matrix, pool and width-converter stages) is shared by the module;
its Verilator build in DIR/sim/ is reused by every run here.
"""
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile

import h5py
import numpy as np
import pytest

from examples.digits_data import load_split
from examples_models import MODELS
from finngen import cli, codec
from finngen.errors import MismatchError
from finngen.sim.buildsim import BuildSim

pytestmark = pytest.mark.rtl

MIDDLE = "@digits_cnn/BinaryConnectConvolution_1"       # conv1, the second of three matrix layers


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    out = tmp_path_factory.mktemp("debugging") / "cnn"
    assert cli.main(["build", str(MODELS / "digits_cnn.nnp"), "--fps", "20000", "--board", "pynq-z1",
                     "--out", str(out)]) == 0
    return out


def _negate_weights(source, destination, parameter):
    """A copy of the .nnp ``source`` with the float weights ``parameter`` negated."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    buffer = io.BytesIO(members["parameter.h5"])
    with h5py.File(buffer, "r+") as f:
        f[parameter][...] = -f[parameter][...]
    members["parameter.h5"] = buffer.getvalue()
    with zipfile.ZipFile(destination, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_build_carries_a_testbench_pytest_runs(build):
    """pytest DIR/sim passes: the build's own tests, one stage alone, and the tests its README
    shows a user adding (their images as .npy, their stall patterns)."""
    sim = build / "sim"
    assert {"tb_accelerator.py", "test_accelerator.py", "conftest.py", "README.md"} <= {p.name for p in sim.iterdir()}
    (example,) = re.findall(r"```python\n(.*?)```", (sim / "README.md").read_text(), re.S)
    (sim / "test_mine.py").write_text(example)
    np.save(sim / "my_images.npy", load_split()[2][:3])
    pool = next(name for name in BuildSim(build).stage_names() if "_pool_" in name)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(sim),
                          "--stage", pool], capture_output=True, text=True, cwd=build, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "6 passed" in run.stdout, run.stdout


def test_verify_layers_on_a_good_build(build, capsys):
    assert cli.main(["verify", str(build), "--frames", "2", "--layers"]) == 0
    out = capsys.readouterr().out
    assert "RTL == golden model: yes (2 frames)" in out
    stages = len(BuildSim(build).chain)
    assert stages >= 8     # two convolutions' windows and units, pools, the classifier
    assert f"stages: all {stages} stage outputs equal the golden model's" in out


def test_verify_names_the_layer_whose_weights_differ(build, tmp_path, capsys):
    """The RTL is built from digits_cnn; verify against a model whose middle convolution has
    the opposite weights: the report names that layer's matrix unit, not a later stage."""
    copy = tmp_path / "cnn"
    shutil.copytree(build, copy)
    _negate_weights(MODELS / "digits_cnn.nnp", copy / "model.nnp", "conv1/bicon_conv/W")
    assert cli.main(["verify", str(copy), "--frames", "2"]) == MismatchError.exit_code
    out = capsys.readouterr().out
    assert "RTL == golden model: NO" in out
    (line,) = [line for line in out.splitlines() if line.startswith("stages:")]
    where = (rf"stage s5_matrix_\w+ \(matrix unit of nnabla layer '{MIDDLE}'\) differs first at "
             r"frame 0, pixel \(y=\d+, x=\d+\), channel \d+: expected [+-]1, got [+-]1")
    assert re.fullmatch("stages: " + where, line), line
    # a checked run (the pytest tests, build --verify) names the stage in its error
    rtl = BuildSim(copy)
    with pytest.raises(MismatchError) as e:
        rtl.run(rtl.random_frames(1), name="checked")
    assert re.match("the RTL output differs from the golden model: " + where, e.value.line()), e.value.line()


def test_one_stage_alone(build, capsys):
    names = BuildSim(build).stage_names()
    assert cli.main(["testbench", str(build)]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in names) and MIDDLE in listing
    window = next(name for name in names if "_window_" in name and name.endswith("Convolution_1"))
    assert cli.main(["testbench", str(build), "--stage", window, "--frames", "1"]) == 0
    out = capsys.readouterr().out
    assert re.match(rf"{window}: [\d,]+ beats in, [\d,]+ beats out over 1 frames under random stalls, "
                    r"all equal to the golden model's", out), out


def test_a_simulation_that_stops_ends_with_one_line(build):
    """Input that stops part-way through a frame: the accelerator waits for the rest, and the
    run ends at the cycle limit derived from the prediction instead of hanging."""
    rtl = BuildSim(build)
    words = codec.pack_frames(rtl.interface, rtl.random_frames(1))[:, :-3]
    with pytest.raises(MismatchError) as e:
        rtl.run_words(words, name="cut")
    line = e.value.line()
    assert "\n" not in line
    assert re.search(r"stopped producing output: 0 of 1 frames after [\d,]+ cycles \(4,608 cycles per frame "
                     r"predicted\)", line), line
    assert json.loads((build / "sim" / "runs" / "cut" / "result.json").read_text())["timed_out"]


def test_run_rtl_writes_waves_with_stage_names(build, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 8, 8), np.float32))
    assert cli.main(["run", str(build), "--backend", "rtl", "--waves", "--input", str(tmp_path / "x.npy"),
                     "--output", str(tmp_path / "y.npy")]) == 0
    err = capsys.readouterr().err
    (path,) = re.findall(r"finngen: waves: (\S+)", err)
    try:
        if path.endswith(".vcd"):       # an FST's hierarchy is compressed
            with open(path, "rb") as f:
                header = f.read(1 << 20)
            assert b"s1_matrix__digits_cnn_BinaryConnectConvolution" in header and b"o__valid" in header
        else:
            assert path.endswith(".fst") and (build / "sim" / "runs" / "run" / "waves.fst").stat().st_size > 0
    finally:
        shutil.rmtree(build / "sim" / "runs" / "run")
