"""finngen build refuses bad targets clearly and never leaves a half-written directory."""
import numpy as np
import pytest

from examples_models import MODELS
from finngen import cli
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


def test_does_not_fit_states_the_best_fps(tmp_path, capsys):
    (tmp_path / "tiny.yaml").write_text(TINY_BOARD)
    code, err = _build(tmp_path, capsys, "--fps", "10000000", "--board", str(tmp_path / "tiny.yaml"))
    assert code == DoesNotFitError.exit_code
    best = float(err.split("the highest that fits is ")[1].split(" FPS")[0].replace(",", ""))
    code, err = _build(tmp_path, capsys, "--fps", str(int(best)), "--board", str(tmp_path / "tiny.yaml"))
    assert code == 0, err
    code, err = _build(tmp_path, capsys, "--fps", "max", "--board", str(tmp_path / "tiny.yaml"), out="max")
    assert code == 0, err


def test_existing_directory_needs_force_and_is_replaced_whole(tmp_path, capsys):
    code, _ = _build(tmp_path, capsys, "--fps", "1000", "--board", "pynq-z1")
    assert code == 0
    report = (tmp_path / "out" / "report.json").read_text()
    code, err = _build(tmp_path, capsys, "--fps", "1000", "--board", "pynq-z1")
    assert code == UsageError.exit_code and "already exists" in err and "--force" in err
    code, err = _build(tmp_path, capsys, "--fps", "1e12", "--board", "pynq-z1", "--force")
    assert code == DoesNotFitError.exit_code
    assert (tmp_path / "out" / "report.json").read_text() == report, "a failed build keeps the old one"
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


def test_folding_file_is_written_and_accepted(tmp_path, capsys):
    code, _ = _build(tmp_path, capsys, "--fps", "5000", "--board", "pynq-z1")
    assert code == 0
    folding = tmp_path / "out" / "folding.yaml"
    code, err = _build(tmp_path, capsys, "--fps", "5000", "--board", "pynq-z1", "--folding", str(folding), out="again")
    assert code == 0, err
    assert (tmp_path / "again" / "folding.yaml").read_text() == folding.read_text()
    folding.write_text(folding.read_text().replace("pe: ", "pe: 3", 1))
    code, err = _build(tmp_path, capsys, "--fps", "5000", "--board", "pynq-z1", "--folding", str(folding), out="bad")
    assert code == UsageError.exit_code and "does not divide" in err


def test_run_rtl_needs_a_build_directory(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 8, 8), np.float32))
    code = cli.main(["run", MLP, "--backend", "rtl", "--input", str(tmp_path / "x.npy"),
                     "--output", str(tmp_path / "y.npy")])
    assert code == UsageError.exit_code and "runs a build directory" in capsys.readouterr().err
