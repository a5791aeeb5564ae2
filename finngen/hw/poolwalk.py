"""Where a beat falls in the walk of a pooling window with kernel == stride over a raster-order
stream: the channel fold, the tap within the window, whether the window is whole (nnabla's
``ignore_border`` drops the rest), and the address of the output pixel's running value.

:class:`~finngen.hw.pool.MaxPool` and :class:`~finngen.hw.sumpool.SumPool` walk with it.
"""
from dataclasses import dataclass

from amaranth.hdl import Mux, Signal, Value

from .. import ir
from .packing import require_divisor

__all__ = ["check_pool_shape", "Walk", "walk"]


def check_pool_shape(layer, channels_per_beat):
    """Raise :exc:`ValueError` unless ``layer`` (a pool with kernel == stride) has a legal shape
    and ``channels_per_beat`` divides its channels."""
    require_divisor(layer.in_shape.channels, channels_per_beat, "channels_per_beat",
                    f"the channels of {layer.name}")
    k, shape = layer.kernel, layer.in_shape
    if k < 1 or shape.height < k or shape.width < k:
        raise ValueError(f"{layer.name}: kernel {k} does not fit the input {shape}")
    expected = ir.Shape(shape.height // k, shape.width // k, shape.channels)
    if layer.out_shape != expected:
        raise ValueError(f"{layer.name}: output shape {layer.out_shape} should be {expected}")


@dataclass
class Walk:
    cf: Value        # the beat's channel fold
    first: Value     # the window's first tap
    last: Value      # its last tap: the output pixel is complete
    inside: Value    # the window is whole (rows and columns that do not fill one are dropped)
    addr: Value      # the output pixel and channel fold's entry in a memory of one output row


def walk(m, layer, channels_per_beat, take) -> Walk:
    """Count the beats ``take`` consumes (in ``m``'s sync domain) and return where the current one falls."""
    k = layer.kernel
    H, W = layer.in_shape.height, layer.in_shape.width
    OW = layer.out_shape.width
    CF = layer.in_shape.channels // channels_per_beat
    y, x, cf = Signal(range(H)), Signal(range(W)), Signal(range(CF))
    ky, kx = Signal(range(k)), Signal(range(k))
    base = Signal(range(OW * CF))       # ox * CF
    with m.If(take):
        with m.If(cf == CF - 1):
            m.d.sync += cf.eq(0)
            with m.If(x == W - 1):
                m.d.sync += [x.eq(0), kx.eq(0), base.eq(0), y.eq(Mux(y == H - 1, 0, y + 1)),
                             ky.eq(Mux((ky == k - 1) | (y == H - 1), 0, ky + 1))]
            with m.Else():
                m.d.sync += [x.eq(x + 1), kx.eq(Mux(kx == k - 1, 0, kx + 1))]
                with m.If((kx == k - 1) & (x < OW * k)):
                    m.d.sync += base.eq(base + CF)
        with m.Else():
            m.d.sync += cf.eq(cf + 1)
    return Walk(cf=cf, first=(ky == 0) & (kx == 0), last=(ky == k - 1) & (kx == k - 1),
                inside=(y < layer.out_shape.height * k) & (x < OW * k), addr=base + cf)
