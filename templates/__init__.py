"""Text templates a build fills in (Vivado TCL, the PYNQ driver package), installed as package data."""
