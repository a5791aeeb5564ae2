"""How exactly a network reproduces nnabla: bit for bit, or within float32 rounding, and why.

Three things make nnabla's own float arithmetic part of the result: BinaryWeight layers (a
float GEMM with alpha * sign(W)), input scaling (MulScalar on the input: nnabla sums the scaled
floats, finngen scales the exact integer sum) and average pooling (a float mean of batch-norm
outputs, or a division by a window size other than 1, 4 or 16). Everything else is bit for bit.
"""
import numpy as np

from .. import ir


def rounding_reasons(network) -> list:
    """Why ``network`` is only within float32 rounding of nnabla (empty when it is bit exact)."""
    reasons = []
    if network.input.scale is not None:
        first = network.matrix_layers[0].name
        reasons.append(f"the input is scaled by {network.input.scale:g} (MulScalar) before {first!r}")
    weighted = [layer.name for layer in network.matrix_layers if layer.op.startswith("BinaryWeight")]
    if weighted:
        reasons.append(f"BinaryWeight layers compute a float GEMM ({', '.join(map(repr, weighted))})")
    for layer in ir.walk(network.layers):
        if isinstance(layer, ir.SumPoolLayer) and layer.threshold is not None:
            reasons.append(f"{layer.name!r} averages batch-norm outputs in float32 before the activation")
        elif isinstance(layer, ir.SumPoolLayer) and layer.kernel not in (1, 2, 4):
            reasons.append(f"{layer.name!r} divides by {layer.kernel ** 2}, inexact in float32")
    return reasons


def exactness(network) -> str:
    reasons = rounding_reasons(network)
    return "within float32 rounding: " + "; ".join(reasons) if reasons else "bit for bit"


def rounding_line(network, scores, nnabla) -> str | None:
    """``finngen verify``'s count of exact values for a network that is within rounding (else None)."""
    if not rounding_reasons(network):
        return None
    scores, nnabla = np.asarray(scores, np.float32), np.asarray(nnabla, np.float32)
    equal = scores.view(np.uint32) == nnabla.view(np.uint32)
    frames = len(scores)
    argmax = np.count_nonzero(scores.reshape(frames, -1).argmax(1) == nnabla.reshape(frames, -1).argmax(1))
    return (f"exactness: {exactness(network)}; {np.count_nonzero(equal)} of {equal.size} outputs bit for bit "
            f"equal to nnabla, argmax equal in {argmax} of {frames} frames")


def golden_only(network) -> list:
    """Lines naming the layers that ``finngen run`` computes but no hardware stage implements yet:
    average pooling of the accelerator's input, whose lanes no layer before it would set."""
    first = next((k for k, layer in enumerate(network.layers) if isinstance(layer, ir.MatrixLayer)),
                 len(network.layers))
    return [f"note: {layer.name!r} (average pooling of the input) runs in 'finngen run' (the golden model); "
            "'finngen build' has no hardware stage for it yet"
            for layer in network.layers[:first] if isinstance(layer, ir.SumPoolLayer)]
