"""The hardware-layer IR: one source of truth for every layer's parameters, shapes and stream order.

The golden model, the hardware components and the folding model all read these objects and
nothing else, so they agree by construction.

Stream order
------------
A feature map travels as pixels in raster order (row by row, left to right) with the channels
of a pixel innermost, i.e. NHWC. A fully connected layer sees its input as a 1x1 image whose
channels are the flattened HWC vector. A matrix layer reads, for each output pixel, a vector
of ``kernel * kernel * in_channels`` elements ordered (ky, kx, c), which is the column order of
:attr:`MatrixLayer.weights`.

Element encoding
----------------
A bipolar (+1/-1) value is the bit 1 for +1 and 0 for -1. Integers are two's complement (signed)
or plain binary (unsigned) of :attr:`DataType.bits` bits.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .epilogue import Epilogue


@dataclass(frozen=True)
class DataType:
    """The element type of a stream."""
    bits: int
    signed: bool = False
    bipolar: bool = False

    def __post_init__(self):
        if self.bipolar and (self.bits != 1 or self.signed):
            raise ValueError("A bipolar type is 1 bit and unsigned in its encoding")
        if self.bits < 1:
            raise ValueError(f"A data type needs at least 1 bit, not {self.bits}")

    @property
    def min(self) -> int:
        """The smallest value (for bipolar: -1)."""
        if self.bipolar:
            return -1
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        """The largest value (for bipolar: +1)."""
        if self.bipolar:
            return 1
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    def __str__(self):
        if self.bipolar:
            return "bipolar"
        return f"{'int' if self.signed else 'uint'}{self.bits}"


BIPOLAR = DataType(1, bipolar=True)
UNIPOLAR = DataType(1)      # BinarySigmoid's {0, 1}: a 1-bit unsigned integer


def signed_bits(lo: int, hi: int) -> int:
    """The width of the narrowest two's complement type that holds every integer in [lo, hi]."""
    bits = 1
    while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
        bits += 1
    return bits


@dataclass(frozen=True)
class Shape:
    """A feature map in stream order: height, width, channels (an FC vector is 1 x 1 x N)."""
    height: int
    width: int
    channels: int

    @property
    def pixels(self) -> int:
        return self.height * self.width

    @property
    def size(self) -> int:
        return self.height * self.width * self.channels

    def __str__(self):
        return f"{self.height}x{self.width}x{self.channels}"


@dataclass(eq=False)
class MatrixLayer:
    """A binarized convolution or fully connected layer with its activation folded in.

    The layer computes, per output pixel and channel ``o``, the integer sum
    ``s[o] = sum_j w[o, j] * x[j]`` over the valid (non-padding) taps ``j`` of its window, with
    ``w`` in {-1, +1}. Padding taps contribute 0, whatever the input type.

    Hidden layers output one bipolar bit per channel: ``(s >= threshold[o]) != invert[o]``.
    The last layer (``threshold is None``) outputs ``s`` itself as a signed ``acc_bits`` integer,
    and :attr:`epilogue` turns it into nnabla's float32 scores on the host.
    """
    name: str                 # the nnabla function that holds the weights
    op: str                   # nnabla function type, e.g. "BinaryConnectConvolution"
    in_shape: Shape
    out_shape: Shape
    kernel: int
    stride: int
    pad: int
    in_type: DataType
    weights: np.ndarray       # bool (out_channels, fan_in); True is +1; columns in (ky, kx, c) order
    epilogue: Epilogue        # float32 arithmetic after the integer sum, as nnabla does it
    acc_min: int              # the reachable range of s over all channels and inputs
    acc_max: int
    threshold: np.ndarray | None = None   # int64 (out_channels,)
    invert: np.ndarray | None = None      # bool (out_channels,)
    # BinaryWeight only: channel -> the integer sum s where the exact pre-activation is 0, so
    # nnabla's float GEMM rounding, not the threshold, decides the bit (see frontend/binary_weight.py)
    ties: dict = field(default_factory=dict)
    activation: DataType = BIPOLAR        # a hidden layer's output: BIPOLAR (BinaryTanh) or UNIPOLAR (BinarySigmoid)
    pad_w: int | None = None  # nnabla's per-axis padding: left and right, where it differs from ``pad`` (top and bottom)

    @property
    def is_conv(self) -> bool:
        return "Convolution" in self.op

    @property
    def fan_in(self) -> int:
        """MW: the length of the vector one output pixel reads."""
        return self.kernel * self.kernel * self.in_shape.channels

    @property
    def out_channels(self) -> int:
        """MH: the number of neurons (output channels)."""
        return self.out_shape.channels

    @property
    def acc_bits(self) -> int:
        return signed_bits(self.acc_min, self.acc_max)

    @property
    def threshold_bits(self) -> int:
        """Thresholds range over [acc_min, acc_max + 1]: one past the end encodes 'never'."""
        return signed_bits(self.acc_min, self.acc_max + 1)

    @property
    def pads(self) -> tuple:
        """Zero padding (rows above and below, columns left and right)."""
        return self.pad, self.pad if self.pad_w is None else self.pad_w

    @property
    def has_padding(self) -> bool:
        return any(self.pads)

    @property
    def out_type(self) -> DataType:
        if self.threshold is None:
            return DataType(self.acc_bits, signed=True)
        return self.activation

    @property
    def macs_per_frame(self) -> int:
        return self.out_shape.pixels * self.out_channels * self.fan_in


@dataclass(eq=False)
class PoolLayer:
    """Max pooling with kernel == stride and no padding; rows and columns that do not fill a
    window are dropped (nnabla's ``ignore_border``). On bipolar data the max is an OR."""
    name: str
    in_shape: Shape
    out_shape: Shape
    kernel: int
    in_type: DataType

    @property
    def out_type(self) -> DataType:
        return self.in_type


@dataclass(eq=False)
class SumPoolLayer:
    """nnabla's AveragePooling (kernel == stride, no padding, ``ignore_border``) as the integer
    sum ``S`` of each window; the division by ``kernel**2`` is folded into what follows.

    Hidden ``BN -> AveragePooling -> BinaryTanh`` (the input is a matrix layer's sums ``s``):
    outputs the bits ``(S >= threshold) != invert`` of type :attr:`activation`. Average pooling
    of binarized activations (threshold None): outputs ``S`` itself, a small signed integer that
    the next matrix layer takes as its integer input (:class:`finngen.hw.sumpool.SumPool`).
    """
    name: str
    in_shape: Shape
    out_shape: Shape
    kernel: int
    in_type: DataType
    threshold: np.ndarray | None = None   # int64 (channels,)
    invert: np.ndarray | None = None      # bool (channels,)
    activation: DataType = BIPOLAR

    @property
    def sum_type(self) -> DataType:
        """The type of a window's sum ``S``."""
        n = self.kernel * self.kernel
        return DataType(signed_bits(n * self.in_type.min, n * self.in_type.max), signed=True)

    @property
    def threshold_bits(self) -> int:
        """Thresholds range over the sums and one past either end ('always', 'never')."""
        return signed_bits(min(self.sum_type.min, int(self.threshold.min())),
                           max(self.sum_type.max, int(self.threshold.max())))

    @property
    def out_type(self) -> DataType:
        return self.sum_type if self.threshold is None else self.activation


@dataclass(eq=False)
class JoinLayer:
    """A residual join ``BinaryTanh(x + h)``: ``h`` is the float32 tail (batch norm) of the
    integer sums ``s`` of the branch's last matrix layer, ``x`` the skip path's bipolar bit.

    Per channel ``o`` the output is ``(s >= threshold[x, o]) != invert[x, o]`` with ``x`` the
    skip bit (row 0 where the skip value is -1, row 1 where it is +1): for each skip value,
    ``x + h`` is a step function of ``s``, found from nnabla's float32 arithmetic.
    """
    name: str                 # the Add2
    shape: Shape
    in_type: DataType         # the sums' type
    threshold: np.ndarray     # int64 (2, channels)
    invert: np.ndarray        # bool (2, channels)

    @property
    def in_shape(self) -> Shape:
        return self.shape

    @property
    def out_shape(self) -> Shape:
        return self.shape

    @property
    def out_type(self) -> DataType:
        return BIPOLAR


@dataclass(eq=False)
class Residual:
    """A residual unit: the stream forks into a branch and a skip path that meet at the join.

    :attr:`branch` holds the branch's layers in stream order, its last a :class:`JoinLayer`
    whose input is the sums of the matrix layer before it; the skip path carries the fork's
    bits unchanged to the join. The unit reads and writes bits of one shape.
    """
    name: str                 # the Add2 that joins
    branch: list

    @property
    def join(self) -> JoinLayer:
        return self.branch[-1]

    @property
    def in_shape(self) -> Shape:
        return self.branch[0].in_shape

    @property
    def out_shape(self) -> Shape:
        return self.join.out_shape

    @property
    def in_type(self) -> DataType:
        return self.branch[0].in_type

    @in_type.setter
    def in_type(self, value):
        self.branch[0].in_type = value

    @property
    def out_type(self) -> DataType:
        return self.join.out_type


def walk(layers) -> list:
    """Every layer of ``layers`` in stream order, a residual unit's branch in its place."""
    out = []
    for layer in layers:
        out += walk(layer.branch) if isinstance(layer, Residual) else [layer]
    return out


@dataclass(eq=False)
class InputSpec:
    """How the host turns the nnabla input variable into the accelerator's input stream."""
    name: str                       # nnabla variable name
    nnabla_shape: tuple             # without the batch dimension, e.g. (1, 8, 8)
    stream_type: DataType           # what enters the accelerator
    binarize: bool = False          # BinaryTanh on the input is computed on the host
    scale: float | None = None      # MulScalar on the input, folded into the first matrix layer (float32)

    @property
    def stream_shape(self) -> Shape:
        return nchw_to_shape(self.nnabla_shape)


@dataclass(eq=False)
class OutputSpec:
    """How the host turns the last layer's stream back into the nnabla output variable."""
    name: str
    nnabla_shape: tuple             # without the batch dimension
    function: dict | None = None    # Softmax/Sigmoid on the host after the scores: {"type", "axis"}


@dataclass(eq=False)
class Network:
    """The layers in stream order; a :class:`Residual` stands for its fork, branch and join, so
    a chain is a plain list and :func:`walk` gives every layer."""
    name: str
    input: InputSpec
    layers: list = field(default_factory=list)
    output: OutputSpec | None = None

    @property
    def matrix_layers(self) -> list:
        return [layer for layer in walk(self.layers) if isinstance(layer, MatrixLayer)]

    @property
    def residuals(self) -> list:
        return [layer for layer in self.layers if isinstance(layer, Residual)]

    @property
    def last(self):
        return self.layers[-1]


def nchw_to_shape(nnabla_shape) -> Shape:
    """The stream shape of an nnabla activation shape without batch: (C, H, W) is an image,
    anything else a flat vector."""
    dims = tuple(int(d) for d in nnabla_shape)
    if len(dims) == 3:
        return Shape(dims[1], dims[2], dims[0])
    return Shape(1, 1, int(np.prod(dims)))


def conv_output_size(size: int, kernel: int, stride: int, pad: int) -> int:
    """Output rows (or columns) of a convolution or pool over ``size`` input rows, as nnabla
    computes them: windows that do not fit are dropped."""
    return (size + 2 * pad - kernel) // stride + 1


def sum_range(weights: np.ndarray, in_type: DataType) -> tuple:
    """Per channel, the least and greatest s = sum w * x over inputs of ``in_type``, for bool
    weights (True is +1). Padding taps contribute 0, which lies within each tap's range, so the
    bounds hold with padding too."""
    positive = weights.sum(axis=1).astype(np.int64)
    negative = weights.shape[1] - positive
    return (positive * in_type.min - negative * in_type.max,
            positive * in_type.max - negative * in_type.min)
