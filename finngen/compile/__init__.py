"""From the IR to a plan: folding (PE/SIMD), the pipeline of stages and their resources."""
