"""This build's accelerator in RTL simulation against the golden model (see README.md).

Each run goes through the cocotb testbench ``tb_accelerator.py``: cocotbext-axi drives
``s_axis`` with the frames' words and drains ``m_axis``, with seeded random stalls, and every
output word is compared with the golden model's. A difference fails the test naming the first
stage whose output differs (nnabla layer, pixel, channel, expected and got).
"""
import pytest

from finngen.sim.streams import Traffic

pytestmark = pytest.mark.rtl


def test_frames_at_predicted_speed(accelerator):
    """Four random frames, no stalls: bit exact, at the frame period the build predicted."""
    result = accelerator.run(accelerator.random_frames(4, seed=1), name="speed")
    assert abs(result.cycles_per_frame - accelerator.predicted) <= 0.01 * accelerator.predicted


def test_frames_under_random_stalls(accelerator):
    """Seeded random stalls in bursts of up to 8 cycles on both streams: the same words come out."""
    stalls = Traffic(seed=2, valid_prob=0.6, ready_prob=0.5, burst=8)
    accelerator.run(accelerator.random_frames(3, seed=2), stalls, name="stalls")


def test_stage(accelerator, stage):
    """One stage alone (``--stage NAME``) on its golden input beats, under random stalls."""
    accelerator.run_stage(stage)
