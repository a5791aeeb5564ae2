"""``finngen deploy``: copy a build's overlay and driver to a PYNQ board and run a short check there.

Everything goes over OpenSSH in batch mode (keys only, no prompts). The files travel as one tar
stream into ``tar -x`` on the board, so only the remote command line is interpreted by a shell,
and every path in it is quoted with :func:`shlex.quote`; local paths are never given to a shell.
The board runs the build's own driver (``python -m finngen_driver``) on a few seeded images and
finngen compares its scores with the golden model's, float32 bit for bit.
"""
from __future__ import annotations

import io
import re
import shlex
import subprocess
import tarfile

import numpy as np

from .. import host
from ..builddir import BuildDir
from ..frames import random_frames
from . import driver, vivado
from ..errors import MismatchError, MissingToolError, ToolError, UsageError

SSH_OPTIONS = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
DRIVER = "driver"     # as in the build: the overlay sits beside the package, where the driver looks
IMAGES, SCORES = "finngen_images.npy", "finngen_scores.npy"
SPEED = re.compile(r"([\d,.]+) images/s")


def deploy(build: BuildDir, target: str, remote_dir: str = "finngen", *, images: int = 8, python: str = "python3",
           ssh_args=()) -> dict:
    """Install ``build`` in ``remote_dir`` on ``target`` (USER@HOST), run ``images`` seeded
    images there; return the board's images/s, whether it matched, and its output."""
    overlay = [build.overlay / f"{vivado.overlay_name(build.meta)}{suffix}" for suffix in (".bit", ".hwh")]
    missing = [path for path in overlay if not path.is_file()]
    if missing:
        raise UsageError(f"{missing[0]}: no overlay yet", fix=f"run 'finngen synth {build.path}' first")
    network = build.network()
    x = host.nnabla_input(network, random_frames(network, images, seed=2))
    remote = shlex.quote(remote_dir)

    _ssh(target, f"mkdir -p {remote} && tar -x -f - -C {remote}", ssh_args, stdin=_bundle(build, overlay, x))
    run = _ssh(target, f"cd {remote}/{DRIVER} && {shlex.quote(python)} -m {driver.PACKAGE} "
                       f"--input ../{IMAGES} --output ../{SCORES} && cat ../{SCORES}", ssh_args)
    # the driver prints one line before the scores' bytes
    line, _, data = run.partition(b"\n")
    scores = np.load(io.BytesIO(data), allow_pickle=False)
    expected = host.run_golden(network, x)
    speed = SPEED.search(line.decode(errors="replace"))
    return {"images": images, "images_per_s": float(speed.group(1).replace(",", "")) if speed else None,
            "match": scores.shape == expected.shape and np.array_equal(scores.view(np.uint32),
                                                                        expected.view(np.uint32)),
            "report": line.decode(errors="replace"), "scores": scores}


def check(result: dict):
    """Raise :class:`MismatchError` when the board's scores differ from the golden model's."""
    if not result["match"]:
        raise MismatchError("the board's output differs from the golden model's",
                            fix="check that the overlay on the board is this build's ('finngen synth' again)")


def _bundle(build: BuildDir, overlay, x) -> bytes:
    """A tar of ``driver/`` with the overlay beside the package (where the driver looks) and the images."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(build.driver, arcname=DRIVER)
        for path in overlay:
            tar.add(path, arcname=f"{DRIVER}/{path.name}")
        data = io.BytesIO()
        np.save(data, x)
        info = tarfile.TarInfo(IMAGES)
        info.size = data.tell()
        tar.addfile(info, io.BytesIO(data.getvalue()))
    return buffer.getvalue()


def _ssh(target: str, command: str, ssh_args, stdin: bytes = b"") -> bytes:
    if target.startswith("-"):
        raise UsageError(f"--host {target!r} is not USER@HOST")
    try:
        result = subprocess.run(["ssh", *SSH_OPTIONS, *ssh_args, "--", target, command], input=stdin,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise MissingToolError("ssh is not installed", fix="apt-get install openssh-client") from None
    if result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        last = lines[-1] if lines else f"exit status {result.returncode}"
        if result.returncode == 255:
            raise ToolError(f"ssh to {target} failed: {last}",
                            fix="check that 'ssh -o BatchMode=yes USER@HOST true' works (keys, host, port)")
        raise ToolError(f"on {target}: {last}", fix="see the driver's README.md in the build's driver/")
    return result.stdout
