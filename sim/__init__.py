"""Verification of :mod:`finngen.hw`.

* :mod:`sim.layers`: seeded random IR layers and input streams;
* :mod:`sim.cases`: a component with its input beats and the golden model's expected beats;
* :mod:`sim.streams`: seeded random valid/ready traffic and the Amaranth-simulator run;
* :mod:`sim.cocotb_streams`, :mod:`sim.tb_stream`: the same traffic as a cocotb testbench;
* :mod:`sim.runner`: Verilog conversion and the cocotb runner (Verilator, or Icarus with
  ``FINNGEN_SIM=icarus`` / ``pytest --sim icarus``); builds and logs go to ``build/sim/``, and a
  failing RTL run is repeated with waveforms, whose path the error names;
* :mod:`sim.synth`: yosys synthesis estimates.
"""
