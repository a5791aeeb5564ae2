"""``finngen inspect``: the layers of a model as finngen understands them."""
from .. import ir
from .binary_weight import tie_warnings
from .exactness import exactness, golden_only
from .streamline import analyse


def describe(graph, input_type) -> str:
    """A table of the model's functions with shapes, geometry, bit widths and support."""
    network, notes = analyse(graph, input_type)
    rows = [("function", "name", "input", "output", "fan-in", "k/s/p", "bits in->out", "supported")]
    for note in notes:
        f = note.function
        layer = note.layer
        shape_in = _shape(graph, f.inputs[0]) if f.inputs else "-"
        shape_out = _shape(graph, f.outputs[0]) if f.outputs else "-"
        fan_in = geometry = bits = ""
        if isinstance(layer, ir.MatrixLayer) and f.name == layer.name:
            fan_in = str(layer.fan_in)
            pad = layer.pad if layer.pad_w is None else f"{layer.pad},{layer.pad_w}"    # rows,columns
            geometry = f"{layer.kernel}/{layer.stride}/{pad}"
            bits = f"{layer.in_type}->{'acc' + str(layer.acc_bits) if layer.threshold is None else layer.out_type}"
        elif isinstance(layer, (ir.PoolLayer, ir.SumPoolLayer)) and f.name == layer.name:
            geometry = f"{layer.kernel}/{layer.kernel}/0"
            bits = f"{layer.in_type}->{layer.out_type}"
        if note.error:
            status = "no: " + note.error
        elif note.checked:
            status = "yes"
        else:
            status = "not checked"
        rows.append((f.type, f.name, shape_in, shape_out, fan_in, geometry, bits, status))
    lines = [f"model: {graph.path}", f"network: {graph.network_name}  input: {graph.input_name} "
             f"{_shape(graph, graph.input_name)}  output: {graph.output_name} {_shape(graph, graph.output_name)}",
             ""]
    lines += _table(rows)
    if network is not None:
        lines += ["", _summary(network)] + tie_warnings(network) + golden_only(network)
    return "\n".join(lines)


def _summary(network: ir.Network) -> str:
    spec = network.input
    source = "binarized on the host" if spec.binarize else "integers"
    matrices = network.matrix_layers
    pools = (ir.PoolLayer, ir.SumPoolLayer)
    macs = sum(m.macs_per_frame for m in matrices)
    return (f"accelerator input: {spec.stream_type} ({source}), {len(matrices)} matrix layers, "
            f"{sum(isinstance(layer, pools) for layer in ir.walk(network.layers))} pooling layers, "
            f"{len(network.residuals)} residual units, {macs:,} binary MACs per frame; "
            f"supported: yes; against nnabla: {exactness(network)}")


def _shape(graph, name):
    shape = graph.shapes.get(name)
    return "x".join(map(str, shape)) if shape else "?"


def _table(rows):
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]) - 1)]
    out = []
    for r in rows:
        out.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths)) + "  " + str(r[-1]))
    return out
