"""finngen: binarized nnabla networks to streaming FPGA accelerators, verified in RTL simulation."""
__version__ = "0.1.0"
