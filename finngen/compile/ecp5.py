"""Lattice ECP5 resources from finngen's estimate, which :mod:`.resources` prices in Xilinx
7-series units (LUT6, FF, BRAM36, DSP48).

The translation is per resource: an ECP5 slice holds two LUT4s and two FFs, so a LUT6 of
logic takes :data:`LUT4_PER_LUT6` LUT4s (fitted to nextpnr's placed ``TRELLIS_COMB`` counts,
``bench/calibrate_ecp5.py``, ``docs/calibration.md``), plus the ECP5's own overhead the fit
finds (:data:`LUT4_FIXED`: the UART link of the board's top level is not in the estimate); flip-flops map
one for one; a DP16KD is a RAMB18's 18 kbit in the same shapes (512x36 .. 16384x1), so a
BRAM36 is two; no stage multiplies, and a DSP would be one MULT18X18D.
"""
from __future__ import annotations

import math

__all__ = ["usage", "LUT4_PER_LUT6", "LUT4_FIXED", "FF_FIXED"]

LUT4_PER_LUT6 = 1.6
LUT4_FIXED = 0
FF_FIXED = 0


def usage(estimate) -> dict:
    """``estimate`` (a :class:`~finngen.compile.resources.Resources`) in an ECP5 board's
    resource keys: ``lut4``, ``ff``, ``dp16kd``, ``mult18``.

    The planner compares this with ``board.resources`` through ``Board.fits``."""
    return {"lut4": round(LUT4_PER_LUT6 * estimate.lut + LUT4_FIXED), "ff": round(estimate.ff + FF_FIXED),
            "dp16kd": math.ceil(2 * estimate.bram36 - 1e-9), "mult18": round(estimate.dsp)}
