"""The command line: one line per error, documented exit codes, no half-written output."""
import subprocess
import sys

import numpy as np
import pytest

from finngen import cli
from finngen.errors import InputDataError, ModelError, UsageError

from examples_models import MODELS

MLP = MODELS / "digits_mlp.nnp"


def _run(tmp_path, capsys, images, *extra, model=MLP):
    np.save(tmp_path / "x.npy", images)
    code = cli.main(["run", str(model), "--input", str(tmp_path / "x.npy"),
                     "--output", str(tmp_path / "y.npy"), *extra])
    err = capsys.readouterr().err
    return code, err


def _digits(n=3):
    return np.random.default_rng(0).integers(0, 17, (n, 1, 8, 8)).astype(np.float32)


@pytest.mark.parametrize("images,phrase", [
    (np.zeros((3, 64), np.float32), "input has shape (3, 64), but the model takes (N, 1, 8, 8)"),
    (np.zeros((0, 1, 8, 8), np.float32), "no images"),
    (np.array([["a"]]), "shape"),
    (np.full((2, 1, 8, 8), 0.5, np.float32), "at index (0, 0, 0, 0) (0.5) is not an integer"),
    (np.where(np.arange(128).reshape(2, 1, 8, 8) == 70, np.nan, 1).astype(np.float32),
     "at index (1, 0, 0, 6) (nan) is not a finite number"),
    (np.where(np.arange(128).reshape(2, 1, 8, 8) == 5, 256, 1).astype(np.float32),
     "at index (0, 0, 0, 5) (256.0) is outside the uint8 input range [0, 255]"),
    (np.full((1, 1, 8, 8), -1, np.int16), "outside the uint8 input range"),
])
def test_bad_images_are_named_with_index_and_value(tmp_path, capsys, images, phrase):
    code, err = _run(tmp_path, capsys, images)
    assert code == InputDataError.exit_code
    assert phrase in err and err.count("\n") == 1
    assert not (tmp_path / "y.npy").exists()
    assert not list(tmp_path.glob(".y.npy*")), "no temporary file left behind"


def test_input_bits_and_sign_set_the_range(tmp_path, capsys):
    images = _digits()
    code, err = _run(tmp_path, capsys, images, "--input-bits", "4")
    assert code == InputDataError.exit_code and "uint4 input range [0, 15]" in err
    code, _ = _run(tmp_path, capsys, images - 8, "--input-bits", "5", "--input-signed")
    assert code == 0
    code, err = _run(tmp_path, capsys, images, "--input-bits", "17")
    assert code == UsageError.exit_code and "--input-bits 17 is out of range" in err


def test_not_a_npy_file_and_missing_files(tmp_path, capsys):
    (tmp_path / "x.npy").write_text("hello")
    code = cli.main(["run", str(MLP), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")])
    assert code == InputDataError.exit_code and "not a readable .npy array" in capsys.readouterr().err
    code = cli.main(["run", str(tmp_path / "none.nnp"), "--input", str(tmp_path / "x.npy"),
                     "--output", str(tmp_path / "y.npy")])
    assert code == ModelError.exit_code and "no such file" in capsys.readouterr().err
    code, err = _run(tmp_path, capsys, _digits(), model=tmp_path / "x.npy")
    assert code == ModelError.exit_code and "not a .nnp file" in err


def test_output_replaced_atomically_and_usage_errors(tmp_path, capsys):
    code, _ = _run(tmp_path, capsys, _digits())
    assert code == 0
    before = (tmp_path / "y.npy").read_bytes()
    code, _ = _run(tmp_path, capsys, np.zeros((3, 64), np.float32))
    assert code == InputDataError.exit_code
    assert (tmp_path / "y.npy").read_bytes() == before, "a failed run leaves the previous output"
    assert cli.main(["run", str(MLP), "--input", "x.npy"]) == UsageError.exit_code
    assert cli.main(["frobnicate"]) == UsageError.exit_code
    err = capsys.readouterr().err
    assert all(line.startswith("finngen: error: ") for line in err.splitlines())


def test_console_script_exit_code_and_debug_traceback(tmp_path):
    finngen = [sys.executable, "-m", "finngen.cli"]
    quiet = subprocess.run(finngen + ["inspect", str(tmp_path / "none.nnp")], capture_output=True, text=True)
    assert quiet.returncode == ModelError.exit_code
    assert quiet.stderr.strip().splitlines() == [f"finngen: error: {tmp_path / 'none.nnp'}: no such file "
                                                 "(check the path to the .nnp model)"]
    loud = subprocess.run(finngen + ["--debug", "inspect", str(tmp_path / "none.nnp")],
                          capture_output=True, text=True)
    assert loud.returncode != 0 and "Traceback" in loud.stderr


def test_inspect_lists_layers_with_shapes_and_support(capsys):
    assert cli.main(["inspect", str(MODELS / "digits_cnn.nnp")]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("BinaryConnectConvolution")]
    assert len(lines) == 2
    first = lines[0].split()
    assert first[2:7] == ["1x8x8", "32x8x8", "9", "3/1/1", "uint8->bipolar"] and first[-1] == "yes"
    assert "MaxPooling" in out and "supported: yes" in out


@pytest.mark.parametrize("command", [["verify"], ["estimate"], ["synth"], ["flash"], ["deploy", "--host", "root@b"],
                                     ["run", "--input", "x.npy", "--output", "y.npy"]])
def test_not_a_build_directory_is_one_line(tmp_path, capsys, command):
    np.save(tmp_path / "x.npy", _digits())
    args = [command[0], str(tmp_path)] + [a if not a.endswith(".npy") else str(tmp_path / a) for a in command[1:]]
    assert cli.main(args) == UsageError.exit_code
    assert capsys.readouterr().err.splitlines() == [
        f"finngen: error: {tmp_path} is not a finngen build directory (no build.json) "
        "(give a directory written by 'finngen build')"]
