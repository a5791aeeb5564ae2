import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The example scripts' helpers (saving and loading .nnp files) are shared with the tests.
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(ROOT / "tests"))
logging.getLogger("nnabla").setLevel(logging.WARNING)


# finngen.hw's tests (tests/test_hw_*.py) import the testbench package sim/ from the root, and
# take the RTL simulator for cocotb from --sim.
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))


def pytest_addoption(parser):
    parser.addoption("--sim", choices=("verilator", "icarus"),
                     help="RTL simulator for the cocotb tests (default: $FINNGEN_SIM, else verilator)")


def pytest_configure(config):
    import os
    # Tiers: `pytest -m "not rtl and not synth and not slow"` is the quick tier (under a minute).
    config.addinivalue_line("markers", "rtl: runs an RTL simulator (Verilator or Icarus)")
    config.addinivalue_line("markers", "synth: runs yosys synthesis or place and route (deselect with -m 'not synth')")
    config.addinivalue_line("markers", "slow: takes more than a few seconds without a simulator or synthesis")
    if config.getoption("--sim"):
        os.environ["FINNGEN_SIM"] = config.getoption("--sim")
