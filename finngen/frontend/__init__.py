"""Reading a .nnp and turning nnabla functions into the layer IR: reader, streamlining, thresholds, inspect."""
