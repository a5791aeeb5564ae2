"""``finngen estimate``: yosys synthesis of a build's RTL beside the analytic estimate."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .. import report
from . import yosys

# Beyond this the analytic model needs attention; the two are not expected to agree exactly.
WARN_RATIO = 0.25


def estimate_build(directory: Path) -> dict:
    """Synthesize ``directory``'s accelerator; record the counts in its report; return them."""
    directory = Path(directory)
    from ..build import RTL_NAME
    verilog = (directory / "rtl" / f"{RTL_NAME}.v").read_text()
    print(f"finngen: synthesizing {RTL_NAME} with yosys (synth_xilinx, xc7)...", file=sys.stderr, flush=True)
    cells = yosys.synthesize({RTL_NAME: verilog}, directory / "yosys")[RTL_NAME]
    counts = yosys.summarize(cells)
    data = json.loads((directory / "report.json").read_text())
    data["resources"]["yosys"] = counts
    warnings = []
    for key in ("lut", "ff", "bram36"):
        model, real = data["resources"]["estimate"][key], counts[key]
        if max(model, real) > 0 and abs(model - real) > WARN_RATIO * max(model, real):
            warnings.append(f"the analytic {key.upper()} estimate ({model:,.0f}) and yosys ({real:,.0f}) differ "
                            f"by more than {WARN_RATIO:.0%}")
    data["resources"]["warnings"] = warnings
    report.write(directory, data)
    for warning in warnings:
        print(f"finngen: warning: {warning}", file=sys.stderr)
    return counts
