"""What ``--fps N`` builds: at least N frames per second, and the most frames per LUT for it.

The cheapest plan meeting the budget is not always the best buy: folds step by divisors, so
the cheapest plan may leave lanes idle that a slightly larger, faster plan keeps busy.
CNV-W1A1 at ``--fps 9000`` on the PYNQ-Z1: the cheapest plan takes 10,800 cycles per frame in
26,759 LUT with 87.7 % of its XNOR lanes busy; the plan at 9,600 cycles takes 28,015 LUT
(+4.7 %) for 12.5 % more frames, its lanes 97.4 % busy. The rule: among the plans meeting the
budget that fit the board, the one with the most frames per second per LUT whose LUTs are at
most :data:`MARGIN` above the cheapest's; ties go to the cheaper.

The plans compared are the planner's, the cheapest at each of :func:`planner.budgets
<finngen.compile.planner.budgets>` up to the budget asked: any other folding of the same speed
costs the planner at least as much, so none of them has more frames per LUT. LUTs are counted
as built, weights placed in the block RAM the plan leaves idle (:func:`planner.place_weights
<finngen.compile.planner.place_weights>`), as the report and the benchmarks count them. As
built, LUTs need not fall monotonically as the budget loosens (placement depends on what block
RAM each plan leaves idle), so every plan from the budget asked to the fastest is judged
rather than stopping at the first beyond the margin.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import ir
from . import pipeline, planner

# A tenth. A faster plan is taken only when its frames grow by a larger fraction than its
# LUTs, so the margin only caps what a user pays for a better-used design: small enough that
# the design stays the size the target asked for (2x the LUTs for a better ratio is not what
# "--fps N" means), wide enough to reach the next plan or two, which is a few percent dearer
# where folds step by factors of 2 and 3 (CNV above: 4.3 %), and above the resource model's
# typical error (median 3 to 5 % against yosys, docs/calibration.md), so the trade it allows
# is one the estimate can see.
MARGIN = 0.10


@dataclass(frozen=True)
class Plan:
    """A plan as built: its folds, cycles per frame, estimated LUTs and whether the board
    builds it."""
    folds: dict
    cycles: int
    lut: float
    fits: bool = True

    @classmethod
    def of(cls, network: ir.Network, folds: dict, limits: planner.Limits | None = None) -> Plan:
        chain = pipeline.stages(network, folds)
        return cls(folds, pipeline.cycles_per_frame(chain), pipeline.estimate(chain)[0].lut,
                   limits is None or limits.fits(chain))

    def report(self, clock_mhz: float) -> dict:
        return {"cycles_per_frame": self.cycles, "fps": clock_mhz * 1e6 / self.cycles, "lut": round(self.lut)}


@dataclass(frozen=True)
class Choice:
    """The plan :func:`choose` took, and the cheapest it was measured against."""
    chosen: Plan
    cheapest: Plan
    margin: float = MARGIN

    @property
    def faster(self) -> bool:
        return self.chosen is not self.cheapest

    def report(self, clock_mhz: float) -> dict:
        """The ``plan`` entry of report.json."""
        return {"rule": f"the most FPS per LUT within {self.margin:.0%} of the cheapest plan's LUTs",
                "margin": self.margin, "cheapest": self.cheapest.report(clock_mhz),
                "chosen": self.chosen.report(clock_mhz), "faster": self.faster,
                "more_fps": self.cheapest.cycles / self.chosen.cycles - 1,
                "more_lut": self.chosen.lut / self.cheapest.lut - 1}


def choose(network: ir.Network, budget: int, limits: planner.Limits | None = None,
           margin: float = MARGIN) -> Choice | None:
    """The plan ``--fps`` builds for ``budget`` cycles per frame (the rule above), or None if no
    plan meets the budget. If the cheapest plan does not fit the board, the choice holds it
    alone, and the caller refuses the target as for any plan that does not fit (naming the
    fastest that does): the margin is measured from a plan the board builds."""
    offered = [Plan.of(network, folds, limits) for _, folds in planner.plans_from(network, budget, limits)]
    if not offered:
        return None
    cheapest = offered[0]
    if not cheapest.fits:
        return Choice(cheapest, cheapest, margin)
    affordable = [plan for plan in offered if plan.fits and plan.lut <= cheapest.lut * (1 + margin)]
    # the most frames per LUT is the fewest cycles x LUTs; then the fewest LUTs, then the cheapest itself
    best = min(affordable, key=lambda plan: (plan.cycles * plan.lut, plan.lut, plan is not cheapest))
    return Choice(best, cheapest, margin)
