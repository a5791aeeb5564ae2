"""Build directories for tests that need one's metadata without running a build."""
import dataclasses

from finngen import ir
from finngen.builddir import BuildDir, BuildMeta

META = BuildMeta(model="digits_mlp.nnp", network="digits_mlp", board="pynq-z1", board_file="pynq-z1.yaml",
                 clock_mhz=100.0, target_fps="1000", input_type=ir.DataType(8), interface={})


def meta(**changes) -> BuildMeta:
    return dataclasses.replace(META, **changes)


def build_dir(path, **changes) -> BuildDir:
    """A directory at ``path`` holding only build.json, with ``changes`` to :data:`META`."""
    build = BuildDir(path)
    build.path.mkdir(parents=True, exist_ok=True)
    build.write_meta(meta(**changes))
    return build
