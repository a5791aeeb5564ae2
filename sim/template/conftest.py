"""pytest options and fixtures of this build's testbench (see README.md beside this file).

    pytest sim                        # from the build directory: every test_*.py here
    pytest sim --simulator icarus     # Icarus Verilog instead of Verilator
    pytest sim --waves                # a waveform (FST) of every run; the path is printed
    pytest sim --stage NAME           # also run stage NAME alone ('all': every stage)
"""
from pathlib import Path

import pytest

from finngen.sim.buildsim import BuildSim

BUILD = Path(__file__).resolve().parent.parent


def pytest_addoption(parser):
    group = parser.getgroup("finngen", "this build's RTL testbench")
    group.addoption("--simulator", choices=("verilator", "icarus"), default="verilator",
                    help="RTL simulator (default verilator)")
    group.addoption("--waves", action="store_true", help="write a waveform of every run and print its path")
    group.addoption("--stage", action="append", default=[], metavar="NAME",
                    help="run this stage alone on its golden input and output ('all' for every stage; "
                         "'finngen testbench BUILD' lists the names)")


def pytest_configure(config):
    config.addinivalue_line("markers", "rtl: runs an RTL simulator")


@pytest.fixture(scope="session")
def accelerator(request):
    """The build's accelerator in the RTL simulator (:class:`finngen.sim.buildsim.BuildSim`)."""
    return BuildSim(BUILD, simulator=request.config.getoption("--simulator"),
                    waves=request.config.getoption("--waves"))


def pytest_generate_tests(metafunc):
    if "stage" in metafunc.fixturenames:
        names = metafunc.config.getoption("--stage")
        if "all" in names:
            names = BuildSim(BUILD).stage_names()
        metafunc.parametrize("stage", names)
