"""Reading nnabla's .nnp files: the network graph and its parameters, with nnabla's own schema.

A .nnp is a zip holding ``network.nntxt`` (protobuf text) and the parameters in
``parameter.h5`` or ``parameter.protobuf``. The zip is checked before anything is read into
memory: a user's model file may be truncated or hostile.
"""
from __future__ import annotations

import io
import logging
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ModelError

# Far larger than any model that fits an FPGA (CNV-W1A1 stores 6 MB of float32 weights).
MAX_MEMBER_BYTES = 512 * 1024 * 1024
NETWORK_MEMBER = "network.nntxt"
PARAMETER_MEMBERS = ("parameter.h5", "parameter.protobuf")


@dataclass(eq=False)
class Function:
    """One nnabla function of the graph, in execution order."""
    name: str
    type: str
    inputs: list
    outputs: list
    param: object = None      # the ``<type>_param`` protobuf message, if the type has one


@dataclass(eq=False)
class Graph:
    """The network an executor runs, with shapes (batch dimension dropped) and parameters."""
    path: str
    network_name: str
    input_name: str
    output_name: str
    shapes: dict                                    # variable name -> shape without batch
    functions: list
    params: dict = field(default_factory=dict)      # parameter name -> float32 array

    def producer(self, variable):
        for f in self.functions:
            if variable in f.outputs:
                return f
        return None


def _pb():
    # Imported late (nnabla takes ~1 s to import), and without the INFO banner it logs on
    # start-up: finngen's stderr is for the user's errors.
    logging.getLogger("nnabla").setLevel(logging.WARNING)
    from nnabla.utils import nnabla_pb2
    return nnabla_pb2


def read(path) -> Graph:
    """Read a .nnp file into a :class:`Graph`, or raise :class:`ModelError` saying what is wrong."""
    path = Path(path)
    members = _read_members(path)
    proto = _parse_network(members[NETWORK_MEMBER], path)
    params = _read_parameters(members, proto, path)
    return _graph(proto, params, path)


def _read_members(path: Path) -> dict:
    if not path.exists():
        raise ModelError(f"{path}: no such file", fix="check the path to the .nnp model")
    if path.is_dir():
        raise ModelError(f"{path}: is a directory, not a .nnp file")
    if path.stat().st_size == 0:
        raise ModelError(f"{path}: the file is empty", fix="save the model again with nnabla.utils.save.save")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ModelError(f"{path}: not a .nnp file (not a zip archive: {e})",
                         fix="save the model with nnabla.utils.save.save(..., extension='.nnp')")
    with archive:
        infos = {}
        for info in archive.infolist():
            name = info.filename
            if name.startswith(("/", "\\")) or ".." in re.split(r"[/\\]", name) or ":" in name:
                raise ModelError(f"{path}: refusing the archive member {name!r}, whose path escapes the archive")
            if info.file_size > MAX_MEMBER_BYTES:
                raise ModelError(f"{path}: the member {name!r} claims {info.file_size} bytes, more than "
                                 f"any model that fits an FPGA ({MAX_MEMBER_BYTES} bytes); refusing to read it")
            infos[name] = info
        if NETWORK_MEMBER not in infos:
            raise ModelError(f"{path}: the archive has no {NETWORK_MEMBER}",
                             fix="save the model with nnabla.utils.save.save")
        wanted = [NETWORK_MEMBER] + [m for m in PARAMETER_MEMBERS if m in infos]
        try:
            return {name: _read_capped(archive, infos[name]) for name in wanted}
        except (zipfile.BadZipFile, EOFError, OSError, zipfile.LargeZipFile, ValueError) as e:
            raise ModelError(f"{path}: the archive is damaged or truncated ({e})")


def _read_capped(archive, info) -> bytes:
    # The size in the directory can lie: never inflate more than it promised.
    with archive.open(info) as f:
        data = f.read(MAX_MEMBER_BYTES + 1)
    if len(data) > MAX_MEMBER_BYTES:
        raise ValueError(f"{info.filename} inflates past {MAX_MEMBER_BYTES} bytes")
    return data


def _parse_network(data: bytes, path: Path):
    from google.protobuf import text_format
    proto = _pb().NNablaProtoBuf()
    try:
        text_format.Merge(data.decode("utf-8"), proto)
    except (text_format.ParseError, UnicodeDecodeError) as e:
        raise ModelError(f"{path}: {NETWORK_MEMBER} is malformed ({e})")
    return proto


def _read_parameters(members: dict, proto, path: Path) -> dict:
    params = _proto_parameters(proto, path, NETWORK_MEMBER)
    if "parameter.protobuf" in members:
        message = _pb().NNablaProtoBuf()
        try:
            message.ParseFromString(members["parameter.protobuf"])
        except Exception as e:  # protobuf raises its own DecodeError, or others on garbage
            raise ModelError(f"{path}: parameter.protobuf is malformed ({e})")
        params.update(_proto_parameters(message, path, "parameter.protobuf"))
    if "parameter.h5" in members:
        params.update(_read_h5(members["parameter.h5"], path))
    return params


def _proto_parameters(message, path: Path, member: str) -> dict:
    params = {}
    for p in message.parameter:
        values = np.asarray(p.data, dtype=np.float32)
        dims = tuple(int(d) for d in p.shape.dim)
        if values.size != int(np.prod(dims)):
            raise ModelError(f"{path}: parameter {p.variable_name!r} in {member} holds {values.size} "
                             f"values for its shape {dims}")
        params[p.variable_name] = values.reshape(dims)
    return params


def _read_h5(data: bytes, path: Path) -> dict:
    import h5py
    params = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            if obj.size * obj.dtype.itemsize > MAX_MEMBER_BYTES:
                raise ModelError(f"{path}: parameter {name!r} claims {obj.shape} values, more than any model "
                                 "that fits an FPGA; refusing to read it")
            params[name] = _as_nnabla_computes(np.asarray(obj[()]))

    try:
        with h5py.File(io.BytesIO(data), "r") as h5:
            h5.visititems(visit)
    except ModelError:
        raise
    except Exception as e:  # h5py reports a damaged file through many exception types
        raise ModelError(f"{path}: parameter.h5 is malformed ({type(e).__name__}: {e})")
    return params


def _as_nnabla_computes(value):
    # nnabla loads a dataset in its stored type (a float64 array assigned to p.d is saved as
    # float64) and its functions convert it to float32, rounding to nearest, when they run:
    # tiny values become (signed) zeros, which BinaryConnect then maps to quantize_zero_to.
    if value.dtype.kind in "fiu" and value.dtype != np.float32:
        with np.errstate(over="ignore"):   # a value past float32's range is Inf, refused later
            return value.astype(np.float32)
    return value


def _graph(proto, params: dict, path: Path) -> Graph:
    if not proto.network:
        raise ModelError(f"{path}: the model has no network")
    if proto.executor:
        executor = proto.executor[0]
        networks = {n.name: n for n in proto.network}
        if executor.network_name not in networks:
            raise ModelError(f"{path}: executor {executor.name!r} names network {executor.network_name!r}, "
                             f"which the file does not have (it has: {', '.join(networks)})")
        network = networks[executor.network_name]
        if len(executor.data_variable) != 1 or len(executor.output_variable) != 1:
            raise ModelError(f"{path}: executor {executor.name!r} has {len(executor.data_variable)} inputs and "
                             f"{len(executor.output_variable)} outputs; finngen supports one of each")
        input_name = executor.data_variable[0].variable_name
        output_name = executor.output_variable[0].variable_name
    elif len(proto.network) == 1:
        network = proto.network[0]
        input_name, output_name = _ends(network, path)
    else:
        raise ModelError(f"{path}: the model has {len(proto.network)} networks and no executor to choose one")
    shapes = {v.name: tuple(int(d) for d in v.shape.dim[1:]) if v.type != "Parameter"
              else tuple(int(d) for d in v.shape.dim) for v in network.variable}
    for name in (input_name, output_name):
        if name not in shapes:
            raise ModelError(f"{path}: variable {name!r} is not declared in network {network.name!r}")
    for name, shape in shapes.items():
        if any(d <= 0 for d in shape):
            raise ModelError(f"{path}: variable {name!r} has the impossible shape {shape}")
    functions = [Function(f.name, f.type, list(f.input), list(f.output), _param_of(f)) for f in network.function]
    for f in functions:
        if not f.inputs or not f.outputs:
            raise ModelError(f"{path}: function {f.name!r} ({f.type}) has no input or no output")
        undeclared = [v for v in f.inputs + f.outputs if v not in shapes]
        if undeclared:
            raise ModelError(f"{path}: function {f.name!r} ({f.type}) uses variable {undeclared[0]!r}, which "
                             f"network {network.name!r} does not declare")
    return Graph(str(path), network.name, input_name, output_name, shapes, functions, params)


def _ends(network, path):
    produced = {o for f in network.function for o in f.output}
    consumed = {i for f in network.function for i in f.input}
    buffers = {v.name for v in network.variable if v.type != "Parameter"}
    inputs = sorted(buffers & consumed - produced)
    outputs = sorted(produced - consumed)
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(f"{path}: network {network.name!r} has no executor and not exactly one input and "
                         f"one output (inputs: {inputs}, outputs: {outputs})")
    return inputs[0], outputs[0]


def _param_of(function):
    field_name = re.sub(r"(?<!^)(?=[A-Z])", "_", function.type).lower() + "_param"
    if field_name in function.DESCRIPTOR.fields_by_name and function.HasField(field_name):
        return getattr(function, field_name)
    return None
