"""From a build to a board: board files, platforms, Vivado project, PYNQ driver, deploy, flash, self-test, yosys."""
