"""Board descriptions: FPGA part, processing system, default clock, resources and DMA width.

Shipped boards live in ``boards/*.yaml``; ``--board`` also takes the path of a user's file.
Every file is validated on load, and a bad one is reported with its file, line and key.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from ..errors import UsageError

BOARDS_DIR = Path(str(resources.files("finngen.board_files")))
PS_KINDS = ("zynq-7000", "zynq-ultrascale+")
RESOURCES = ("lut", "ff", "bram36", "dsp")


class BoardError(UsageError):
    """A board file that cannot be used."""


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    part: str
    ps: str
    clock_mhz: float
    dma_width_bits: int
    resources: dict
    path: str


def known() -> dict:
    """The shipped boards by name."""
    return {p.stem: p for p in sorted(BOARDS_DIR.glob("*.yaml"))}


def load(name_or_path) -> Board:
    """Load a shipped board by name, or a board file by path."""
    text_name = str(name_or_path)
    path = Path(text_name)
    if text_name in known():
        path = known()[text_name]
    elif not (path.suffix in (".yaml", ".yml") or path.exists()):
        raise BoardError(f"unknown board {text_name!r}", fix=f"known boards: {', '.join(known())}; "
                                                             "or give the path of a board .yaml file")
    if not path.is_file():
        raise BoardError(f"{path}: no such board file", fix=f"known boards: {', '.join(known())}")
    return parse(path.read_text(errors="replace"), str(path))


def parse(text: str, where: str) -> Board:
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise BoardError(f"{where}{line}: not valid YAML ({getattr(e, 'problem', e)})")
    if not isinstance(data, dict):
        raise BoardError(f"{where}: a board file is a mapping of keys (name, part, ps, clock_mhz, "
                         "dma_width_bits, resources)")

    def fail(key, message):
        raise BoardError(f"{where} line {_line(root, key)}: key '{key}' {message}")

    def get(key, kind, check=lambda v: True, what=""):
        parent, _, leaf = key.rpartition(".")
        holder = data.get(parent, {}) if parent else data
        if not isinstance(holder, dict) or leaf not in holder:
            fail(key, "is missing")
        value = holder[leaf]
        if not isinstance(value, kind) or isinstance(value, bool) or not check(value):
            fail(key, f"must be {what}, not {value!r}")
        return value

    allowed = ("name", "description", "part", "ps", "clock_mhz", "dma_width_bits", "resources")
    unknown = [key for key in data if key not in allowed]
    if unknown:
        fail(str(unknown[0]), f"is not a board key (the keys are: {', '.join(allowed)})")
    name = get("name", str, bool, "a non-empty string")
    part = get("part", str, bool, "an FPGA part number such as xc7z020clg400-1")
    ps = get("ps", str, lambda v: v in PS_KINDS, f"one of {', '.join(PS_KINDS)}")
    clock = get("clock_mhz", (int, float), lambda v: 1 <= v <= 1000, "a clock in MHz between 1 and 1000")
    dma = get("dma_width_bits", int, lambda v: v >= 8 and v % 8 == 0, "a multiple of 8 bits")
    if not isinstance(data.get("resources"), dict):
        fail("resources", f"must map {', '.join(RESOURCES)} to counts")
    resources = {r: get(f"resources.{r}", int, lambda v: v > 0, "a positive integer") for r in RESOURCES}
    description = data.get("description", name)
    return Board(name, str(description), part, ps, float(clock), dma, resources, where)


def _line(root, key) -> int:
    """The 1-based line of ``key`` (dotted) in the composed YAML, or of its nearest parent."""
    node, line = root, 1
    for part in key.split("."):
        if not isinstance(node, yaml.MappingNode):
            break
        for k, v in node.value:
            if str(k.value) == part:
                node, line = v, k.start_mark.line + 1
                break
        else:
            break
    return line
