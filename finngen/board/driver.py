"""The PYNQ driver of a build: ``DIR/driver/finngen_driver``, a Python package for the board.

The package is ``templates/driver/*.py`` plus a verbatim copy of :mod:`finngen.codec` and the
codec's description of this network (``accelerator.json``, ``epilogue.npz``), so the board runs
the same checks, packing and float32 epilogue as ``finngen run``.
"""
from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from .. import codec, host
from ..builddir import BuildDir, BuildMeta
from . import vivado

TEMPLATES = Path(str(resources.files("finngen.templates"))) / "driver"
PACKAGE = "finngen_driver"


def write_driver(build: BuildDir, network) -> Path:
    """Write ``DIR/driver/`` for ``network`` as ``build`` built it; return the package."""
    meta, root = build.meta, build.driver
    package = root / PACKAGE
    package.mkdir(parents=True, exist_ok=True)
    for source in sorted(TEMPLATES.glob("*.py")):
        shutil.copyfile(source, package / source.name)
    shutil.copyfile(codec.__file__, package / "codec.py")
    spec = host.spec(network, meta.interface)
    spec.update(overlay=vivado.overlay_name(meta), model=meta.model, board=meta.board,
                dma=vivado.dma_layout(meta.interface))
    codec.save(package, spec)
    (root / "README.md").write_text(_readme(spec, meta))
    return package


def _readme(spec: dict, meta: BuildMeta) -> str:
    name = spec["overlay"]
    shape = ", ".join(map(str, spec["input"]["shape"]))
    values = ("any finite floats (BinaryTanh: > 0 is +1)" if spec["input"]["binarize"] else
              "integers in [{}, {}]".format(*codec.input_range(spec["input"]["bits"], spec["input"]["signed"])))
    return f"""# PYNQ driver for {meta.model} on {meta.board}

Runs the accelerator that `finngen build` made for `{meta.model}` and writes what nnabla's
output variable would hold, float32 bit for bit, like `finngen run`.

1. Build the overlay (`finngen synth BUILD_DIR`, or Vivado on `vivado/build_overlay.tcl`) and
   copy `vivado/output/{name}.bit` and `vivado/output/{name}.hwh` into this directory.
2. Copy this directory to a {meta.board} running a PYNQ image (2.7 or later); PYNQ brings
   numpy, which is all the driver needs besides `pynq`.
3. On the board, as root (PYNQ needs it for the FPGA and DMA), in this directory:

       python3 -m {PACKAGE} --input images.npy --output scores.npy

   `images.npy` holds images shaped (N, {shape}), {values}; the output is shaped
   (N, {', '.join(map(str, spec['output']['shape']))}). It prints the images per second, counting the
   packing and the float32 epilogue. `--bitfile` loads another .bit; `--batch N` sets the images per DMA
   transfer.

From Python: `from {PACKAGE} import Accelerator; scores = Accelerator().run(images)`.
"""
