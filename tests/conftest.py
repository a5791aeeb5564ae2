# The tests import their own helpers from tests/ (pytest puts it on sys.path for its test
# files) and the examples' helpers from the package examples/ (pyproject's pythonpath: the root).
import logging

logging.getLogger("nnabla").setLevel(logging.WARNING)


# the cocotb tests take the RTL simulator from --sim
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
