"""RTL simulation and verification: the one harness for finngen's commands and its tests.

* :mod:`finngen.sim.runner`: Verilog into Verilator (or Icarus) through cocotb's runner, the
  build cache, the venv's PATH, waves; every simulation goes through it;
* :mod:`finngen.sim.streams`: :class:`~finngen.sim.streams.Traffic`, the one back-pressure model
  (seeded random or fixed stall patterns), and the Amaranth-simulator run;
* :mod:`finngen.sim.buildsim`: a build directory's accelerator (``build --verify``, ``verify``,
  ``run --backend rtl``, ``testbench`` and the tests in ``DIR/sim/``);
* :mod:`finngen.sim.tb_accelerator`: its cocotb testbench, copied into every build with the
  pytest runner of :file:`template/`;
* :mod:`finngen.sim.probes`: the golden beats at every stage boundary, and the first that differs;
* :mod:`finngen.sim.beats`: stream beats as Python integers;
* component tests: :mod:`finngen.sim.layers` (seeded random IR layers), :mod:`finngen.sim.cases`
  (a component with its input and expected beats), :mod:`finngen.sim.cocotb_streams` and
  :mod:`finngen.sim.tb_stream` (their cocotb testbench), :mod:`finngen.sim.synth` (yosys counts).
"""
