"""The built wheel carries boards/, templates/ and sim/: installed away from the source tree,
``finngen boards`` lists the boards and a build from another directory writes vivado/ and driver/."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from examples_models import MODELS
from finngen.builddir import BuildDir

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(environment, directory) of a finngen installed from its wheel into a fresh --target;
    the project venv's dependencies are reused, the source tree is not on the path."""
    root = tmp_path_factory.mktemp("install")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(root / "wheel"),
                    str(ROOT)], check=True, cwd=root)
    (wheel,) = (root / "wheel").glob("finngen-*.whl")
    target = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, cwd=root)
    env = dict(os.environ, PYTHONPATH=str(target), PATH=f"{target / 'bin'}{os.pathsep}{os.environ['PATH']}")
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    return env, elsewhere, target


def _run(installed, *args):
    env, elsewhere, _ = installed
    return subprocess.run(list(args), cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)


def test_imported_from_the_installation(installed):
    _, _, target = installed
    where = _run(installed, sys.executable, "-c", "import finngen, finngen.sim; print(finngen.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(target)


def test_boards_are_listed(installed):
    result = _run(installed, "finngen", "boards")
    assert result.returncode == 0, result.stderr
    boards = result.stdout.splitlines()[1:]
    assert any(line.split()[0] == "pynq-z1" for line in boards) and len(boards) >= 5


def test_build_writes_vivado_and_driver(installed):
    env, elsewhere, _ = installed
    result = _run(installed, "finngen", "build", str(MODELS / "digits_mlp.nnp"), "--fps", "20000",
                  "--board", "pynq-z1", "--verify", "0", "--out", "mlp")
    assert result.returncode == 0, result.stderr
    build = BuildDir.open(elsewhere / "mlp")
    assert "create_bd_design" in (build.vivado / "build_overlay.tcl").read_text()
    assert {"__init__.py", "__main__.py", "codec.py"} <= {p.name for p in (build.driver / "finngen_driver").iterdir()}
