"""``finngen estimate``: yosys synthesis of a build's RTL beside the analytic estimate."""
from __future__ import annotations

import sys

from ..builddir import TOP, BuildDir
from . import yosys

# Beyond this the analytic model needs attention; the two are not expected to agree exactly.
WARN_RATIO = 0.25


def estimate_build(build: BuildDir) -> dict:
    """Synthesize ``build``'s accelerator; record the counts in its report; return them."""
    print(f"finngen: synthesizing {TOP} with yosys (synth_xilinx, xc7)...", file=sys.stderr, flush=True)
    cells = yosys.synthesize({TOP: build.verilog.read_text()}, build.yosys)[TOP]
    counts = yosys.summarize(cells)
    data = build.read_report()
    data["resources"]["yosys"] = counts
    warnings = []
    for key in ("lut", "ff", "bram36"):
        model, real = data["resources"]["estimate"][key], counts[key]
        if max(model, real) > 0 and abs(model - real) > WARN_RATIO * max(model, real):
            warnings.append(f"the analytic {key.upper()} estimate ({model:,.0f}) and yosys ({real:,.0f}) differ "
                            f"by more than {WARN_RATIO:.0%}")
    data["resources"]["warnings"] = warnings
    build.write_report(data)
    for warning in warnings:
        print(f"finngen: warning: {warning}", file=sys.stderr)
    return counts
