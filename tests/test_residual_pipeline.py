"""A residual unit in the pipeline (issue 14): fork, branch, join in stream order, a skip FIFO
that holds what the branch's window holds back, and plans that count all of it."""
import pytest

import modelgen
from finngen import ir
from finngen.compile import pipeline, planner
from finngen.compile.kinds import Fork, Join, SlidingWindow
from finngen.frontend import nnp
from finngen.frontend.streamline import streamline


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    path = tmp_path_factory.mktemp("residual") / "m.nnp"
    modelgen.make(1502, path, modelgen.Options(conv=True, residual=True, input_bits=8), count=2)
    network = streamline(nnp.read(path), ir.DataType(8))
    assert network.residuals
    return network


def test_every_plan_runs_the_unit_as_fork_branch_join(network):
    for budget, folds in planner.plans(network):
        chain = pipeline.stages(network, folds)
        assert pipeline.cycles_per_frame(chain) <= budget
        for f, j, skip in pipeline.skips(chain):
            unit = chain[f].layer
            assert isinstance(chain[f], Fork) and isinstance(chain[j], Join) and chain[j].layer is unit.join
            branch = chain[f + 1:j]
            assert {stage.layer for stage in branch} == set(unit.branch[:-1])
            # the skip FIFO outlasts every row the branch's windows buffer before their first output
            per_pixel = unit.in_shape.channels // skip.width
            rows = sum(s.held_pixels for s in branch if isinstance(s, SlidingWindow))
            assert skip.depth >= rows * per_pixel
            # and the resources count it: a join costs at least its skip FIFO
            assert chain[j].resources().lut >= skip.resources().lut


def test_the_report_shows_the_skip_fifo(network):
    _, folds = next(iter(planner.plans(network)))
    chain = pipeline.stages(network, folds)
    total, per_stage = pipeline.estimate(chain)
    joins = [(stage, r) for stage, r in zip(chain, per_stage) if isinstance(stage, Join)]
    assert joins and all(stage.details()["skip_fifo_bits"] == stage.skip.depth * stage.skip.width
                         for stage, _ in joins)
    assert total.lut >= sum(r.lut for _, r in joins)
