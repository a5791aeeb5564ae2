"""Saving models reproducibly and running a saved .nnp file."""
import os
import zipfile
from pathlib import Path

import nnabla as nn
from nnabla.utils.nnp_graph import NnpLoader

from .nnp_io import save_nnp

# zipfile stamps each member with the current time, so two saves of the same network
# differ in a few header bytes. Rewriting the members with a fixed time (the zip epoch)
# makes a rerun of a seeded script produce a byte-identical file.
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def save_model(path, network_name, x, y):
    """Save the inference graph x -> y with the current parameters; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_nnp(path, network_name, x, y)
    _fix_zip_times(path)
    return path


def _fix_zip_times(path):
    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        for info, data in members:
            fixed = zipfile.ZipInfo(info.filename, date_time=_FIXED_ZIP_TIME)
            fixed.compress_type = info.compress_type
            fixed.external_attr = 0o644 << 16
            archive.writestr(fixed, data)
    os.replace(tmp, path)


def forward_saved(path, network_name, x):
    """Load ``path`` from scratch with NnpLoader and return the network's output for x.

    The global parameters are cleared first, so the result depends on the file alone.
    """
    nn.clear_parameters()
    net = NnpLoader(str(path)).get_network(network_name, batch_size=len(x))
    (inp,) = net.inputs.values()
    (out,) = net.outputs.values()
    inp.d = x
    out.forward(clear_buffer=True)
    return out.d.copy()
