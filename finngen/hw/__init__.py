"""Streaming hardware components in Amaranth, each configured from one IR layer and its folding.

Every component is a :class:`amaranth.lib.wiring.Component` with an input stream ``i`` and an
output stream ``o`` (:mod:`amaranth.lib.stream`: payload, valid, ready). Elements are packed
into beats by :mod:`finngen.hw.packing`, the one place that defines the bit layout.
"""
from .dwc import StreamWidthConverter
from .fifo import StreamFIFO
from .mvtu import MVTU
from .pool import MaxPool
from .residual import ResidualJoin, StreamFork
from .swu import SlidingWindow

__all__ = ["MVTU", "SlidingWindow", "MaxPool", "StreamWidthConverter", "StreamFIFO", "StreamFork", "ResidualJoin"]
