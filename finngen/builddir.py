"""A build directory: what ``finngen build`` writes and every later command reads.

:class:`BuildDir` knows where each part lives (rtl/, report, vivado/, driver/, selftest/, sim/),
reads and writes the typed metadata (``build.json``) and the report, and rebuilds the network
as it was built. :meth:`BuildDir.staged` writes a new one under a temporary name next to its
destination and moves it into place only when everything succeeded, so a failed or
interrupted build leaves the previous state.
"""
from __future__ import annotations

import ctypes
import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from . import interrupt, ir
from .errors import UsageError

# The top-level Verilog module, also the name of its file in rtl/.
TOP = "finngen_accelerator"
META = "build.json"


@dataclass(frozen=True)
class BuildMeta:
    """What ``build.json`` records: the inputs of a build and the stream interface it got."""
    model: str                      # the model file's name; the build keeps a copy as model.nnp
    network: str
    board: str
    board_file: str
    clock_mhz: float
    target_fps: str | None          # a number or "max"; None when a folding file fixed the rate
    input_type: ir.DataType
    interface: dict                 # the accelerator's stream widths and beats (see finngen.codec)
    baud: int | None = None         # the serial link's rate (ECP5 boards), None without one

    def to_json(self) -> dict:
        data = {"model": self.model, "network": self.network, "board": self.board,
                "board_file": self.board_file, "clock_mhz": self.clock_mhz, "target_fps": self.target_fps,
                "input": {"bits": self.input_type.bits, "signed": self.input_type.signed},
                "interface": self.interface}
        return data if self.baud is None else dict(data, baud=self.baud)

    @classmethod
    def from_json(cls, data: dict) -> BuildMeta:
        return cls(model=data["model"], network=data["network"], board=data["board"],
                   board_file=data["board_file"], clock_mhz=float(data["clock_mhz"]),
                   target_fps=data["target_fps"],
                   input_type=ir.DataType(data["input"]["bits"], data["input"]["signed"]),
                   interface=data["interface"], baud=data.get("baud"))


class BuildDir:
    """The build directory at ``path`` (see :meth:`open` for one that must exist)."""

    def __init__(self, path):
        self.path = Path(path)

    @classmethod
    def open(cls, path) -> BuildDir:
        """An existing build directory; a :class:`UsageError` if ``path`` is not one."""
        build = cls(path)
        if not (build.path / META).is_file():
            raise UsageError(f"{build.path} is not a finngen build directory (no {META})",
                             fix="give a directory written by 'finngen build'")
        return build

    def __repr__(self):
        return f"BuildDir({str(self.path)!r})"

    # where each part lives
    @property
    def rtl(self) -> Path:
        return self.path / "rtl"

    @property
    def verilog(self) -> Path:
        return self.rtl / f"{TOP}.v"

    @property
    def model(self) -> Path:
        return self.path / "model.nnp"

    @property
    def folding(self) -> Path:
        return self.path / "folding.yaml"

    @property
    def report_json(self) -> Path:
        return self.path / "report.json"

    @property
    def report_html(self) -> Path:
        return self.path / "report.html"

    @property
    def vivado(self) -> Path:
        return self.path / "vivado"

    @property
    def overlay(self) -> Path:
        """Where Vivado writes the overlay's .bit and .hwh (Zynq boards)."""
        return self.vivado / "output"

    @property
    def bitstream(self) -> Path:
        """Where the open flow writes the accelerator's .bit and .svf (ECP5 boards)."""
        return self.path / "bitstream"

    @property
    def driver(self) -> Path:
        return self.path / "driver"

    @property
    def selftest(self) -> Path:
        return self.path / "selftest"

    @property
    def yosys(self) -> Path:
        """yosys' work directory for ``finngen estimate``."""
        return self.path / "yosys"

    @property
    def sim(self) -> Path:
        """The RTL simulator's work directory (its compiled model is reused between runs)."""
        return self.path / "sim"

    # contents
    @cached_property
    def meta(self) -> BuildMeta:
        try:
            return BuildMeta.from_json(json.loads((self.path / META).read_text()))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UsageError(f"{self.path / META} is damaged ({type(e).__name__}: {e})",
                             fix="rebuild it with 'finngen build ... --force'") from None

    def write_meta(self, meta: BuildMeta):
        (self.path / META).write_text(json.dumps(meta.to_json(), indent=2) + "\n")
        self.__dict__["meta"] = meta

    def board(self):
        """The :class:`~finngen.board.boards.Board` the build is for: its board file, or the
        shipped board of that name when the file has moved (a reinstalled finngen)."""
        from .board import boards
        path = Path(self.meta.board_file)
        return boards.load(path if path.is_file() else self.meta.board)

    @property
    def interface(self) -> dict:
        """The accelerator's stream interface (widths, lanes and beats of both streams)."""
        return self.meta.interface

    def network(self) -> ir.Network:
        """The network streamlined from the build's copy of the model, as it was built."""
        from .frontend import nnp
        from .frontend.streamline import streamline
        return streamline(nnp.read(self.model), self.meta.input_type)

    def read_report(self) -> dict:
        return json.loads(self.report_json.read_text())

    def write_report(self, data: dict):
        from .report import render_html
        self.report_json.write_text(json.dumps(data, indent=2) + "\n")
        self.report_html.write_text(render_html(data))

    # writing a new one
    @staticmethod
    def check_free(out, force: bool):
        """Refuse to write to ``out`` when something is there and ``force`` is not given."""
        if Path(out).exists() and not force:
            raise UsageError(f"{out} already exists", fix="pass --force to replace it, or choose --out")

    @classmethod
    @contextmanager
    def staged(cls, out, force: bool = False):
        """Yield a :class:`BuildDir` in a temporary directory next to ``out``; move it to ``out``
        when the block succeeds (``force``: replacing what is there in one step), remove it when
        the block fails or is interrupted."""
        out = Path(out)
        cls.check_free(out, force)
        tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
        try:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            yield cls(tmp)
            with interrupt.deferred():
                cls.check_free(out, force)      # something may have appeared there meanwhile
                _move_into_place(tmp, out)
        except BaseException:
            with interrupt.deferred():
                shutil.rmtree(tmp, ignore_errors=True)
            raise


def _move_into_place(tmp: Path, out: Path):
    """Rename ``tmp`` to ``out``; an existing ``out`` is swapped with it in one step (Linux's
    renameat2 RENAME_EXCHANGE), so a reader sees the old build or the new one, never none."""
    if out.exists() or out.is_symlink():
        if _exchange(tmp, out):
            _remove(tmp)
            return
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(old)
        tmp.rename(out)
        _remove(old)
    else:
        tmp.rename(out)


def _remove(path: Path):
    """Remove what ``--force`` replaced: a directory, or a file or link in its place."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


_RENAME_EXCHANGE, _AT_FDCWD = 2, -100


def _exchange(a: Path, b: Path) -> bool:
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0
