"""Stage kinds: each streaming component's facts in one place (see :class:`base.Stage`).

The pipeline is a chain of these; FIFOs (:class:`Fifo`) sit between consecutive stages.
"""
from .base import Stage
from .convert import WidthConverter
from .fifo import Fifo
from .matrix import MatrixUnit, cycles_per_pixel
from .pool import Pool
from .residual import Fork, Join
from .sumpool import SumPool
from .window import SlidingWindow

__all__ = ["Stage", "WidthConverter", "SlidingWindow", "MatrixUnit", "Pool", "SumPool", "Fork", "Join", "Fifo",
           "cycles_per_pixel"]
