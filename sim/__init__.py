"""Verification of :mod:`finngen.hw`.

* :mod:`finngen.sim.layers`: seeded random IR layers and input streams;
* :mod:`finngen.sim.cases`: a component with its input beats and the golden model's expected beats;
* :mod:`finngen.sim.streams`: seeded random valid/ready traffic and the Amaranth-simulator run;
* :mod:`finngen.sim.cocotb_streams`, :mod:`finngen.sim.tb_stream`: the same traffic as a cocotb testbench;
* :mod:`finngen.sim.runner`: Verilog conversion and the cocotb runner (Verilator, or Icarus with
  ``FINNGEN_SIM=icarus`` / ``pytest --sim icarus``); builds and logs go to ``build/sim/``, and a
  failing RTL run is repeated with waveforms, whose path the error names;
* :mod:`finngen.sim.synth`: yosys synthesis estimates.
"""
