"""Lattice ECP5 resources from finngen's estimate, which :mod:`.resources` prices in Xilinx
7-series units (LUT6, FF, BRAM36, DSP48).

The translation is per resource. A LUT6 of logic takes :data:`LUT4_PER_LUT6` LUT4s, fitted to
nextpnr's placed ``TRELLIS_COMB`` counts (carry and LUT RAM cells included) of three real builds
(``bench/calibrate_ecp5.py``; ``docs/calibration.md`` has the table: -25 % to +28 %; one
ratio cannot follow the mix of logic: a LUT6 with MUXF7/MUXF8 holds 64 words of a LUT ROM, a
LUT4 16, and wide XNOR-popcount trees take more LUT4s per LUT6 than control logic does).
Flip-flops map one for one. The serial link of the board's top level (UART, frame logic,
CRC, timeout) is not in the estimate: :data:`LUT4_FIXED` and :data:`FF_FIXED` are its cells
as ``synth_ecp5`` maps them. A DP16KD holds a RAMB18's 18 kbit in the same shapes
(512x36 .. 16384x1), so a BRAM36 is two; no stage multiplies (a DSP would be a MULT18X18D).
"""
from __future__ import annotations

import math

__all__ = ["usage", "LUT4_PER_LUT6", "LUT4_FIXED", "FF_FIXED"]

LUT4_PER_LUT6 = 1.70
LUT4_FIXED = 366    # the link: 286 LUT4, 36 CCU2C (2 LUT4 each), 4 DPR16X4 (2 LUT4 each)
FF_FIXED = 180


def usage(estimate) -> dict:
    """``estimate`` (a :class:`~finngen.compile.resources.Resources`) in an ECP5 board's
    resource keys: ``lut4``, ``ff``, ``dp16kd``, ``mult18``.

    The planner compares this with ``board.resources`` through ``Board.fits``."""
    return {"lut4": round(LUT4_PER_LUT6 * estimate.lut + LUT4_FIXED), "ff": round(estimate.ff + FF_FIXED),
            "dp16kd": math.ceil(2 * estimate.bram36 - 1e-9), "mult18": round(estimate.dsp)}
