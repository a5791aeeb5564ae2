"""Streamlining: an nnabla graph becomes a chain of hardware layers with integer thresholds.

Each binarized affine or convolution, together with the batch norm and BinaryTanh after it,
becomes one :class:`~finngen.ir.MatrixLayer`: binarized weights in stream order and a
per-channel integer threshold found from nnabla's own float32 arithmetic. The last matrix
layer keeps its float32 tail as a host-side epilogue instead.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import ir
from ..epilogue import BatchNorm, Epilogue
from ..errors import ModelError
from .binary_weight import nnabla_alpha, tie_sums
from .thresholds import integer_thresholds

MATRIX_OPS = ("BinaryConnectAffine", "BinaryConnectConvolution",
              "BinaryWeightAffine", "BinaryWeightConvolution")
OUTPUT_FUNCTIONS = ("Softmax", "Sigmoid")    # after the last layer, on the host
SUPPORTED = (MATRIX_OPS + ("MulScalar", "BatchNormalization", "BinaryTanh", "BinarySigmoid", "MaxPooling",
                           "AveragePooling", "GlobalAveragePooling", "Reshape", "Add2") + OUTPUT_FUNCTIONS)
# nnabla's continuous activations: a binarized datapath carries none of them between layers.
CONTINUOUS = ("ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "CReLU", "GELU", "Mish", "Swish",
              "Tanh", "Sigmoid", "HardSigmoid", "HardTanh", "SoftPlus", "SoftSign", "TanhShrink", "LogSigmoid")
NEEDS_BINARIZED = "the accelerator needs binarized activations between layers (e.g. F.binary_tanh)"
SUPPORTED_TEXT = ("supported: " + ", ".join(SUPPORTED) +
                  "; convolutions with square kernels 1 to 7, stride 1 or 2, zero padding (per axis, any size), "
                  "group 1, dilation 1; max and average pooling with kernel == stride and no padding; "
                  "MulScalar on the "
                  "input (image / 255); residual units BinaryTanh(x + BN(conv(...))) whose branch forks from "
                  "BinaryTanh's bits; Softmax and "
                  "Sigmoid on the last layer's scores")


@dataclass(eq=False)
class FunctionNote:
    """What streamlining made of one nnabla function, for ``finngen inspect``."""
    function: object
    layer: object = None        # the hardware layer it became part of
    error: str | None = None    # why it is not supported
    checked: bool = False       # reached along the chain (functions after a branch are not)


@dataclass(eq=False)
class _Fork:
    """A residual unit being read: where the stream forked and the Add2 that joins it."""
    variable: str
    join: object
    start: int                  # the branch's first layer in network.layers
    shape: ir.Shape


@dataclass(eq=False)
class _Pending:
    """A matrix layer whose batch norm and activation are still being read."""
    function: object
    weights: np.ndarray
    kernel: int
    stride: int
    pad: tuple                # (rows, columns)
    in_shape: ir.Shape
    out_shape: ir.Shape
    in_type: ir.DataType
    alpha: np.ndarray | None
    bias: np.ndarray | None
    bn: BatchNorm | None = None
    pools: list = field(default_factory=list)   # MaxPooling before the BinaryTanh (commutes with it)
    pools_sums: bool = False                    # the pooling comes before the batch norm: it pools s
    average: tuple | None = None                # (function, k, out_shape): AveragePooling before the activation
    join: object = None                         # the Add2 of a residual unit that this layer's tail enters
    offset: np.ndarray | None = None            # nnabla's sum = the hardware's + offset (inverted {0, 1} inputs)
    notes: list = field(default_factory=list)


def streamline(graph, input_type: ir.DataType = ir.DataType(8)) -> ir.Network:
    """Turn a :class:`~finngen.frontend.nnp.Graph` into an :class:`~finngen.ir.Network`.

    ``input_type`` is the integer type of the model's input; a BinaryTanh on the input makes
    the accelerator input bipolar instead. Raises :class:`ModelError` naming the first
    function that cannot be mapped.
    """
    network, notes = analyse(graph, input_type)
    failed = [n for n in notes if n.error]
    if failed:
        f = failed[0].function
        more = f" ({len(failed) - 1} more unsupported: see 'finngen inspect')" if len(failed) > 1 else ""
        raise ModelError(f"{graph.path}: {f.type} {f.name!r}: {failed[0].error}{more}")
    return network


def analyse(graph, input_type: ir.DataType = ir.DataType(8)):
    """Like :func:`streamline`, but return ``(network or None, notes per function)``: every
    function of the chain is checked, past the first that is not supported."""
    s = _Streamliner(graph, input_type)
    try:
        s.run()
    except _Refusal as refusal:
        s.fail(refusal.function, str(refusal))
    if any(n.error for n in s.notes):
        return None, s.notes
    return s.network, s.notes


class _Refusal(Exception):
    def __init__(self, function, message):
        super().__init__(message)
        self.function = function


class _Streamliner:
    def __init__(self, graph, input_type):
        self.graph = graph
        shape = graph.shapes[graph.input_name]
        self.network = ir.Network(graph.network_name, ir.InputSpec(graph.input_name, shape, input_type))
        self.shape = self.network.input.stream_shape
        self.type = input_type
        self.pending: _Pending | None = None
        self.output_function: dict | None = None
        # channels whose bits travel inverted to the next matrix layer, which negates their weights
        self.inverted: np.ndarray | None = None
        self.inverted_by = None     # the pooling that made them so
        self.input_scale = None     # MulScalar on the input, waiting for the first matrix layer
        self.pool_scale = None      # 1 / k**2 of an average pooling, waiting for the next matrix layer
        self.notes = [FunctionNote(f) for f in graph.functions]
        self._note = {id(n.function): n for n in self.notes}
        self.fork: _Fork | None = None
        self.readers = {}           # variable -> the functions that read it, in order
        for f in graph.functions:
            for name in dict.fromkeys(f.inputs):
                self.readers.setdefault(name, []).append(f)

    # -- walking the chain ----------------------------------------------------------------

    def run(self):
        current = self.graph.input_name
        for function in self.graph.functions:
            if current == self.graph.output_name:
                break
            joins = self.fork is not None and function is self.fork.join and current in function.inputs
            if not joins and (not function.inputs or function.inputs[0] != current):
                raise _Refusal(function, f"branches off the main chain (it reads {function.inputs[:1]}, the "
                                         f"chain is at {current!r}); finngen supports a chain of layers and "
                                         "residual units joined by Add2")
            self._note[id(function)].checked = True
            try:
                if len(self.readers.get(current, ())) > 1 and not joins:
                    self._open_fork(current)
                if self.pending is not None and self.pending.join is not None and function.type != "BinaryTanh":
                    raise _Refusal(function, f"follows the residual join {self.pending.join.name!r}: only "
                                             "BinaryTanh(x + h) is supported there")
                if function.type in CONTINUOUS and not (function.type in OUTPUT_FUNCTIONS and
                                                        self._ends_scores(function)):
                    raise _Refusal(function, f"{function.type} is a continuous activation: {NEEDS_BINARIZED}")
                if function.type not in SUPPORTED:
                    raise _Refusal(function, f"function type {function.type} is not supported ({SUPPORTED_TEXT})")
                getattr(self, "_" + function.type)(function)
            except _Refusal as refusal:
                self.fail(refusal.function, str(refusal))
                self._recover(function)
            current = function.outputs[0]
        if any(n.error for n in self.notes):
            self._finish(last=True)     # for inspect's table; the network is not used
            return
        if self.fork is not None:
            raise _Refusal(self.fork.join, "the residual join is not followed by BinaryTanh before the model's "
                                           "output (only BinaryTanh(x + h) is supported)")
        if self.inverted is not None:
            raise _Refusal(self.inverted_by, "max pooling before a batch norm with negative gamma needs a matrix "
                                             "layer after it (to take the inversion)")
        if self.pool_scale is not None:
            pool = next(layer for layer in reversed(self.network.layers) if isinstance(layer, ir.SumPoolLayer))
            raise _Refusal(self._function(pool.name), "average pooling as the model's output is not supported (end "
                                                      "with a matrix layer's scores)")
        if current != self.graph.output_name:
            raise ModelError(f"{self.graph.path}: the chain of functions from {self.graph.input_name!r} never "
                             f"reaches the output {self.graph.output_name!r}")
        self._finish(last=True)
        if not self.network.matrix_layers:
            raise ModelError(f"{self.graph.path}: the network has no binarized affine or convolution layer "
                             f"({SUPPORTED_TEXT})")
        out = self.graph.shapes[self.graph.output_name]
        if int(np.prod(out)) != self.shape.size:
            raise ModelError(f"{self.graph.path}: the output {self.graph.output_name!r} is declared with shape "
                             f"{out}, but the network computes {self.shape.size} values")
        self.network.output = ir.OutputSpec(self.graph.output_name, out, self.output_function)

    def fail(self, function, message):
        # the first reason stands: a refused fork is found before the chain reaches its reader
        note = self._note[id(function)]
        note.error = note.error or message

    def _function(self, name):
        return next(f for f in self.graph.functions if f.name == name)

    def _recover(self, function):
        """Go on past a refused function as if it were supported, so that the functions after it
        are checked for their own sake (the network is not built). A refused matrix layer is
        stood in for by one without weights; a refused function that keeps the shape where a
        matrix layer waits for its activation takes the activation's place."""
        out_shape = ir.nchw_to_shape(self.graph.shapes[function.outputs[0]])
        if function.type in MATRIX_OPS or function.type in ("Affine", "Convolution"):
            self._finish(last=False)
            self.input_scale = self.pool_scale = None     # the stand-in takes them, as the layer would
            self.pending = _Pending(function, np.zeros((out_shape.channels, 1), bool), 1, 1, (0, 0), self.shape,
                                    out_shape, self.type, None, None)
        elif (self.pending is not None and function.type != "BatchNormalization" and out_shape == self.shape
              and function.outputs[0] != self.graph.output_name):
            self._finish(last=False)
        self.shape = out_shape

    def _absorb(self, function, layer):
        self._note[id(function)].layer = layer

    def _param(self, function, name, shape=None):
        if name not in self.graph.params:
            raise _Refusal(function, f"its parameter {name!r} is missing from the file")
        value = self.graph.params[name]
        if value.dtype != np.float32:
            raise _Refusal(function, f"its parameter {name!r} is {value.dtype}, not a real number type")
        if shape is not None and value.size != int(np.prod(shape)):
            raise _Refusal(function, f"its parameter {name!r} has shape {value.shape}, expected {tuple(shape)}")
        if not np.all(np.isfinite(value)):
            raise _Refusal(function, f"its parameter {name!r} holds NaN or Inf (as float32, the type nnabla "
                                     "computes in)")
        return value

    # -- the functions ----------------------------------------------------------------------

    def _matrix(self, function):
        if self.pending is not None:
            raise _Refusal(function, f"is fed the float activations of {self.pending.function.name!r} (no "
                                     f"BinaryTanh between them): {NEEDS_BINARIZED}")
        window_sums = self.pool_scale is not None
        if not (self.type in (ir.BIPOLAR, ir.UNIPOLAR) or not self.network.matrix_layers or window_sums):
            raise _Refusal(function, "reads integer data that is not the model input")
        p = function.param
        if p.base_axis != 1:
            raise _Refusal(function, f"base_axis {p.base_axis} is not supported (only 1)")
        conv = function.type.endswith("Convolution")
        binary_weight = function.type.startswith("BinaryWeight")
        out_shape = ir.nchw_to_shape(self.graph.shapes[function.outputs[0]])
        if conv:
            kernel, stride, pad = self._conv_geometry(function, out_shape)
            w = self._param(function, function.inputs[1], (out_shape.channels, self.shape.channels, kernel, kernel))
            w = w.reshape(out_shape.channels, self.shape.channels, kernel, kernel)
            # nnabla's (out, in, ky, kx) becomes the stream's (ky, kx, c) column order
            columns = w.transpose(0, 2, 3, 1).reshape(out_shape.channels, -1)
        else:
            kernel, stride, pad = 1, 1, (0, 0)
            fan_in = self.shape.size
            w = self._param(function, function.inputs[1])
            if w.ndim < 2 or w.shape[0] != fan_in or w.size != fan_in * out_shape.size:
                raise _Refusal(function, f"its weight {function.inputs[1]!r} has shape {w.shape}, which does not "
                                         f"match its input of {fan_in} and output of {out_shape.size} values")
            out_shape = ir.Shape(1, 1, out_shape.size)
            # nnabla flattens (C, H, W); the stream carries (H, W, C)
            s = self.shape
            columns = w.reshape(s.channels, s.height, s.width, -1).transpose(3, 1, 2, 0).reshape(-1, fan_in)
        weights = self._binarize(function, columns)
        offset = None
        if self.inverted is not None:
            # The previous layer sends NOT x on these channels: w * x == (-w) * (NOT x) exactly
            # for +-1; for {0, 1}, w * x == (-w) * (1 - x) + w, a constant per output channel
            # where no tap is ever padding.
            flip = np.isin(np.arange(weights.shape[1]) % self.shape.channels, self.inverted)
            if self.type == ir.UNIPOLAR:
                if any(pad):
                    raise _Refusal(function, f"a padded layer after {self.inverted_by.name!r} (max pooling before a "
                                             "negative-gamma batch norm and BinarySigmoid) is not supported")
                offset = (np.where(weights, 1, -1) * flip).sum(axis=1)
            weights = weights ^ flip
            self.inverted = None
        extra = function.inputs[3:]
        alpha = None
        if binary_weight:
            # nnabla recomputes alpha = mean |W| per output channel on every forward pass, in its
            # own weight order: (out, in, ky, kx) for convolutions, W (in, out) transposed for affine
            rows = w.reshape(out_shape.channels, -1) if conv else w.reshape(self.shape.size, -1).T
            alpha = nnabla_alpha(rows)
            extra = extra[1:]
        bias = self._param(function, extra[0], (out_shape.channels,)).reshape(-1) if extra else None
        if self.input_scale is not None or window_sums:
            # nnabla sums the scaled floats x * c; finngen scales the exact integer sum instead,
            # so this layer's values are within float32 rounding of nnabla's (InputSpec.scale),
            # and exact for an average over 4 or 16 values (1/4, 1/16 and their sums are exact).
            c = self.pool_scale if window_sums else self.input_scale
            alpha = np.full(out_shape.channels, c, np.float32) if alpha is None else alpha * c
            if not window_sums:
                self.network.input.scale = float(c)
            self.input_scale = self.pool_scale = None
        # A fully connected layer reads the stream as one pixel whose channels are all values.
        in_shape = self.shape if conv else ir.Shape(1, 1, self.shape.size)
        self.pending = _Pending(function, weights, kernel, stride, pad, in_shape, out_shape, self.type,
                                alpha, bias, offset=offset)
        self.pending.notes.append(function)
        self.shape = out_shape

    _BinaryConnectAffine = _BinaryConnectConvolution = _matrix
    _BinaryWeightAffine = _BinaryWeightConvolution = _matrix

    def _conv_geometry(self, function, out_shape):
        p = function.param
        if len(self.graph.shapes[function.inputs[0]]) != 3:
            raise _Refusal(function, "its input is not an image (C, H, W)")
        kernel = tuple(self.graph.params.get(function.inputs[1], np.zeros((0, 0, 0, 0))).shape[2:])
        pad, stride, dilation = tuple(p.pad.dim), tuple(p.stride.dim), tuple(p.dilation.dim)
        if len(kernel) != 2 or kernel[0] != kernel[1] or not 1 <= kernel[0] <= 7:
            raise _Refusal(function, f"kernel {kernel} is not supported (square, 1 to 7)")
        k = kernel[0]
        if len(set(stride)) != 1 or stride[0] not in (1, 2):
            raise _Refusal(function, f"stride {stride} is not supported (1 or 2, the same in both directions)")
        if len(pad) != 2 or min(pad) < 0:
            # a pad of k or more is fine (windows wholly in the padding sum to 0, as nnabla's zeros do)
            raise _Refusal(function, f"padding {pad} is not supported (rows and columns, 0 or more)")
        if set(dilation) != {1}:
            raise _Refusal(function, f"dilation {dilation} is not supported (only 1)")
        if p.group != 1:
            raise _Refusal(function, f"group {p.group} is not supported (only 1)")
        expected = [ir.conv_output_size(n, k, stride[0], side)
                    for n, side in zip((self.shape.height, self.shape.width), pad)]
        if [out_shape.height, out_shape.width] != expected:
            raise _Refusal(function, f"its output shape {out_shape} does not follow from its input {self.shape}")
        return k, stride[0], pad

    def _binarize(self, function, w):
        """W > 0 is +1, W < 0 is -1, W == 0 is quantize_zero_to; the stored Wb may be stale."""
        zeros = w == 0
        if zeros.any():
            q = function.param.quantize_zero_to
            if q not in (1.0, -1.0):
                raise _Refusal(function, f"quantize_zero_to is {q} and {int(zeros.sum())} weights are exactly 0: "
                                         "that makes ternary weights; only quantize_zero_to = +1 or -1 is supported")
            return np.where(zeros, q > 0, w > 0)
        return w > 0

    def _BatchNormalization(self, function):
        p = function.param
        pending = self.pending
        if pending is None or pending.bn is not None:
            raise _Refusal(function, "only a batch norm directly after a binarized affine or convolution is supported")
        if p is not None and p.batch_stat:
            raise _Refusal(function, "batch_stat is true (training mode); save the inference graph "
                                     "(batch_stat=False)")
        if p is None or list(p.axes) != [1]:
            raise _Refusal(function, f"axes {list(p.axes) if p else None} are not supported (only [1], the channels)")
        c = self.shape.channels
        names = list(function.inputs[1:])
        beta = np.zeros(c, np.float32) if p.no_bias else self._param(function, names.pop(0), (c,)).reshape(-1)
        gamma = np.ones(c, np.float32) if p.no_scale else self._param(function, names.pop(0), (c,)).reshape(-1)
        if len(names) != 2:
            raise _Refusal(function, "expected inputs x, beta, gamma, mean, var")
        mean = self._param(function, names[0], (c,)).reshape(-1)
        var = self._param(function, names[1], (c,)).reshape(-1)
        if np.any(var < 0):
            raise _Refusal(function, f"its variance {names[1]!r} is negative in channel {int(np.argmax(var < 0))}")
        pending.bn = BatchNorm(mean, var, gamma, beta, np.float32(p.eps))
        pending.notes.append(function)

    def _BinaryTanh(self, function):
        if self.pending is not None:
            self._finish(last=False)
            layer = self.network.layers[-1]
            self._absorb(function, layer)
        elif self.type.bipolar:
            self._absorb(function, self.network.layers[-1] if self.network.layers else None)
        elif all(isinstance(layer, ir.PoolLayer) for layer in self.network.layers):
            if self.input_scale is not None and not self.input_scale > 0:
                raise _Refusal(function, f"BinaryTanh of the input scaled by {self.input_scale} is not supported "
                                         "(a positive scale does not change the sign)")
            self.input_scale = None
            # The host binarizes the input; nothing before this changes a value's sign. Max
            # pooling commutes with the monotone BinaryTanh (sign(max x) = max sign x, exactly),
            # so pooling the input first is pooling its bits.
            self.network.input.binarize = True
            self.network.input.stream_type = ir.BIPOLAR
            for layer in self.network.layers:
                layer.in_type = ir.BIPOLAR
            self.type = ir.BIPOLAR
            self._absorb(function, self.network.layers[-1] if self.network.layers else None)
        else:
            raise _Refusal(function, "BinaryTanh on integer data inside the network is not supported")

    def _MulScalar(self, function):
        # nnabla records image / 255 as MulScalar(1/255) and computes x * float32(val).
        if self.network.matrix_layers or self.pending is not None or self.type != self.network.input.stream_type:
            raise _Refusal(function, "MulScalar is supported only between the model input and the first matrix "
                                     "layer (input scaling, e.g. image / 255)")
        val = np.float32(function.param.val)
        if self.network.layers and not val > 0:
            raise _Refusal(function, f"MulScalar by {val} after max pooling is not supported (only a positive scale "
                                     "commutes with the maximum)")
        if not np.isfinite(val):
            raise _Refusal(function, f"MulScalar by {val} is not a finite scale")
        self.input_scale = val if self.input_scale is None else np.float32(self.input_scale * val)

    def _BinarySigmoid(self, function):
        # 1 if x > 0 else 0: the comparison of BinaryTanh, so the same thresholds; the bit is
        # the value, which the next layer reads as a 1-bit unsigned integer (padding 0 is value 0).
        if self.pending is None:
            raise _Refusal(function, "BinarySigmoid is supported only as the activation of a binarized affine or "
                                     "convolution (after its batch norm)")
        if function.outputs[0] == self.graph.output_name:
            raise _Refusal(function, "BinarySigmoid as the model's output is not supported (end with the last "
                                     "layer's scores)")
        self._finish(last=False, activation=ir.UNIPOLAR)
        self._absorb(function, self.network.layers[-1])

    def _pool_kernel(self, function):
        """The k of a MaxPooling or AveragePooling that finngen supports: k x k, stride k, no padding."""
        p = function.param
        kernel, stride, pad = tuple(p.kernel.dim), tuple(p.stride.dim), tuple(p.pad.dim)
        if len(kernel) != 2 or len(set(kernel)) != 1 or kernel != stride:
            raise _Refusal(function, f"kernel {kernel} with stride {stride} is not supported "
                                     "(square kernel equal to the stride)")
        if any(pad) or not p.ignore_border or p.channel_last:
            raise _Refusal(function, "padding, ignore_border=False and channel_last are not supported")
        if len(self.graph.shapes[function.inputs[0]]) != 3:
            raise _Refusal(function, "its input is not an image (C, H, W)")
        return kernel[0]

    def _MaxPooling(self, function):
        k = self._pool_kernel(function)
        out_shape = ir.Shape(self.shape.height // k, self.shape.width // k, self.shape.channels)
        if self.inverted is not None:
            raise _Refusal(function, f"max pooling after {self.inverted_by.name!r}, whose batch norm has negative "
                                     "gamma after its max pooling, is not supported")
        if self.input_scale is not None and not self.input_scale > 0:
            raise _Refusal(function, f"max pooling of the input scaled by {self.input_scale} is not supported (only a "
                                     "positive scale commutes with the maximum)")
        if self.pending is not None and self.pending.average is not None:
            raise _Refusal(function, "max pooling after average pooling is not supported")
        if self.pending is not None:
            self.pending.pools.append((function, k, out_shape))
            self.pending.pools_sums |= self.pending.bn is None
            self.pending.notes.append(function)
        else:
            layer = ir.PoolLayer(function.name, self.shape, out_shape, k, self.type)
            self.network.layers.append(layer)
            self._absorb(function, layer)
        self.shape = out_shape

    def _ends_scores(self, function):
        """Whether ``function`` reads the last layer's scores and writes the model's output."""
        return self.pending is not None and function.outputs[0] == self.graph.output_name

    def _Softmax(self, function):
        if not self._ends_scores(function):
            raise _Refusal(function, "Softmax is supported only on the last layer's scores, as the model's output")
        self.output_function = {"type": "Softmax", "axis": int(function.param.axis) - 1}
        self.pending.notes.append(function)

    def _Sigmoid(self, function):
        self.output_function = {"type": "Sigmoid"}
        self.pending.notes.append(function)

    # -- residual units ----------------------------------------------------------------------

    def _open_fork(self, variable):
        """The stream ``variable`` feeds a branch and, unchanged, the Add2 that ends it."""
        readers = self.readers[variable]
        branch, join = readers[0], readers[-1]
        if len(readers) > 2 or join.type != "Add2":
            raise _Refusal(join, f"reads {variable!r}, which also feeds {branch.name!r}: a dataflow forks a "
                                 "stream only into a residual branch and the Add2 that joins it")
        if self.fork is not None:
            raise _Refusal(join, f"a residual unit inside the branch of {self.fork.join.name!r} is not supported")
        # opened before the checks of what it forks, so that a refusal still reads on to the join
        self.fork = _Fork(variable, join, len(self.network.layers), self.shape)
        if self.pending is not None or self.type != ir.BIPOLAR:
            raise _Refusal(join, f"its skip input {variable!r} is not BinaryTanh's bits: a residual unit must "
                                 "fork from a binarized activation")
        if self.inverted is not None or self.pool_scale is not None or self.input_scale is not None:
            raise _Refusal(join, f"its skip input {variable!r} follows a pooling or scaling that the next matrix "
                                 "layer would absorb; fork from a layer's BinaryTanh")

    def _Add2(self, function):
        fork, pending = self.fork, self.pending
        if fork is None or function is not fork.join or fork.variable not in function.inputs:
            raise _Refusal(function, "Add2 is supported only as the join of a residual unit, BinaryTanh(x + h), "
                                     "with x a binarized activation that the branch h forks from")
        if pending is None or pending.pools or pending.average is not None:
            raise _Refusal(function, "a residual branch must end in a binarized convolution or affine with its "
                                     "batch norm (no pooling) before the join")
        if pending.function.type.startswith("BinaryWeight"):
            raise _Refusal(function, f"a residual branch ending in {pending.function.type} is not supported "
                                     "(BinaryConnect only)")
        if self.shape != fork.shape:
            raise _Refusal(function, f"joins the branch's {self.shape} with the skip's {fork.shape}")
        pending.join = function
        pending.notes.append(function)

    def _join(self, layer, evaluate, lo, hi):
        """Close a residual unit: the layer passes its sums to a join whose two thresholds per
        channel are nnabla's ``skip + tail(s) > 0`` in float32, for skip -1 and +1."""
        fork = self.fork
        pairs = [integer_thresholds(lambda s, x=np.float32(x): x + evaluate(s), lo, hi) for x in (-1, 1)]
        join = ir.JoinLayer(fork.join.name, layer.out_shape, layer.out_type,
                            threshold=np.stack([t for t, _ in pairs]), invert=np.stack([i for _, i in pairs]))
        branch = self.network.layers[fork.start:] + [layer, join]
        del self.network.layers[fork.start:]
        unit = ir.Residual(fork.join.name, branch)
        self.network.layers.append(unit)
        self.fork = None
        self.type = ir.BIPOLAR
        return unit

    def _AveragePooling(self, function):
        self._average(function, self._pool_kernel(function))

    def _GlobalAveragePooling(self, function):
        if len(self.graph.shapes[function.inputs[0]]) != 3:
            raise _Refusal(function, "its input is not an image (C, H, W)")
        if self.shape.height != self.shape.width:
            raise _Refusal(function, f"global average pooling of the non-square map {self.shape} is not supported")
        self._average(function, self.shape.height)

    def _average(self, function, k):
        """nnabla divides each window's float sum by k * k: a threshold on the integer window sum
        before an activation, or the integer sum itself as the next layer's input."""
        out_shape = ir.Shape(self.shape.height // k, self.shape.width // k, self.shape.channels)
        if self.pending is not None:
            if self.pending.pools or self.pending.average is not None:
                raise _Refusal(function, "average pooling together with another pooling before the activation is "
                                         "not supported")
            self.pending.average = (function, k, out_shape)
            self.pending.notes.append(function)
        elif self.type in (ir.BIPOLAR, ir.UNIPOLAR):
            layer = ir.SumPoolLayer(function.name, self.shape, out_shape, k, self.type)
            self.network.layers.append(layer)
            self._absorb(function, layer)
            self.type = layer.out_type
            self.pool_scale = np.float32(1) / np.float32(k * k)
        else:
            raise _Refusal(function, "average pooling is supported after a binarized layer (before its activation) "
                                     "or of binarized activations")
        self.shape = out_shape

    def _Reshape(self, function):
        out = self.graph.shapes[function.outputs[0]]
        if int(np.prod(out)) != self.shape.size:
            raise _Refusal(function, f"reshapes {self.shape.size} values to {out}")
        if len(out) == 3 and ir.nchw_to_shape(out) != self.shape:
            raise _Refusal(function, f"reshaping to the image {out} is not supported (only flattening)")
        layer = self.network.layers[-1] if self.network.layers else None
        if self.pending is not None:
            self.pending.notes.append(function)
        else:
            self._absorb(function, layer)

    # -- closing a matrix layer ------------------------------------------------------------

    def _average_threshold(self, layer, evaluate, lo, hi, pending, activation):
        """BN -> AveragePooling -> activation: BN is affine per channel, so the mean of its
        outputs is BN of the mean sum S / k**2 (exactly in reals; nnabla rounds each BN output
        and the mean in float32, so near the step this is within rounding)."""
        f, k, out_shape = pending.average
        n = k * k
        pool = ir.SumPoolLayer(f.name, layer.out_shape, out_shape, k, layer.out_type, activation=activation)
        pool.threshold, pool.invert = integer_thresholds(lambda total: evaluate(np.asarray(total) / n), lo * n, hi * n)
        self.network.layers += [layer, pool]
        for function in pending.notes:
            self._absorb(function, layer)
        self._absorb(f, pool)
        self.type = pool.out_type

    def _pool_falling_channels(self, layer, pending, falling):
        """MaxPool -> BN -> activation: where the output falls with s (negative gamma),
        sign(BN(max s)) = min of the pixels' bits = NOT(OR of the inverted bits).
        The hardware pools with OR, so these channels send their inverted comparison and the
        next matrix layer takes the final inversion into its weights."""
        pool = pending.pools[0][0]
        self.inverted = np.flatnonzero(falling)
        self.inverted_by = pool
        layer.invert = layer.invert & ~falling

    def _finish(self, last, activation=ir.BIPOLAR):
        pending = self.pending
        if pending is None:
            return
        self.pending = None
        epilogue = Epilogue(pending.alpha, pending.bias, pending.bn)
        lo, hi = _sum_range(pending.weights, pending.in_type)
        layer = ir.MatrixLayer(
            name=pending.function.name, op=pending.function.type,
            in_shape=pending.in_shape, out_shape=pending.out_shape,
            kernel=pending.kernel, stride=pending.stride, pad=pending.pad[0],
            pad_w=pending.pad[1] if pending.pad[1] != pending.pad[0] else None,
            in_type=pending.in_type, weights=pending.weights, epilogue=epilogue,
            acc_min=int(lo.min()), acc_max=int(hi.max()), activation=activation)
        offset = 0 if pending.offset is None else pending.offset

        def evaluate(s):
            return epilogue(np.asarray(s) + offset)
        if last:
            if pending.pools or pending.average:
                f = (pending.pools[0] if pending.pools else pending.average)[0]
                raise _Refusal(f, "pooling of the last layer's scores is not supported")
            if pending.offset is not None:
                raise _Refusal(self.inverted_by, "max pooling before a negative-gamma batch norm and BinarySigmoid "
                                                 "needs a hidden layer after it, not the last")
        elif pending.average is not None:
            self._average_threshold(layer, evaluate, lo, hi, pending, activation)
            return
        elif pending.join is not None:
            unit = self._join(layer, evaluate, lo, hi)
            for f in pending.notes:
                self._absorb(f, layer)
            self._absorb(pending.join, unit)
            return
        else:
            layer.threshold, layer.invert = integer_thresholds(evaluate, lo, hi)
            falling = layer.invert & (layer.threshold <= hi)    # constant channels pool as they are
            if pending.pools_sums and falling.any():
                self._pool_falling_channels(layer, pending, falling)
            if pending.alpha is not None:
                parity = layer.fan_in % 2 if pending.in_type.bipolar and not any(pending.pad) else None
                ties = tie_sums(epilogue, lo + offset, hi + offset, parity)
                layer.ties = {c: s - (pending.offset[c] if pending.offset is not None else 0) for c, s in ties.items()}
        self.network.layers.append(layer)
        for f in pending.notes:
            self._absorb(f, layer)
        for f, k, out_shape in pending.pools:
            # BinaryTanh is monotone, so it commutes with max: pool the bits after thresholding.
            pool = ir.PoolLayer(f.name, self.network.layers[-1].out_shape, out_shape, k, layer.out_type)
            self.network.layers.append(pool)
            self._absorb(f, pool)
        self.type = self.network.layers[-1].out_type


def _sum_range(weights, in_type):
    """Per channel, the least and greatest s = sum w * x over inputs of ``in_type``.

    Padding taps contribute 0, which lies within each tap's range, so the bounds hold with
    padding too."""
    positive = weights.sum(axis=1).astype(np.int64)
    negative = weights.shape[1] - positive
    hi = positive * in_type.max - negative * in_type.min
    lo = positive * in_type.min - negative * in_type.max
    return lo, hi
