"""Benchmarks and calibration sweeps: run as `python -m bench.NAME` from the repository root."""
