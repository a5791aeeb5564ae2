"""Board descriptions: FPGA part, default clock and resources, and what the family needs.

Two families: ``zynq`` boards (the default) name their processing system (``ps``) and DMA width,
and count Xilinx LUT/FF/BRAM36/DSP; ``ecp5`` boards (Lattice, built with the open flow) name
the package, speed grade, oscillator and UART baud rate, and count LUT4/FF/DP16KD/MULT18.
Shipped boards live in ``boards/*.yaml``; ``--board`` also takes the path of a user's file.
Every file is validated on load, and a bad one is reported with its file, line and key.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import yaml

from ..errors import UsageError

BOARDS_DIR = Path(str(resources.files("finngen.board_files")))
PS_KINDS = ("zynq-7000", "zynq-ultrascale+")
FAMILIES = ("zynq", "ecp5")
RESOURCES = {"zynq": ("lut", "ff", "bram36", "dsp"), "ecp5": ("lut4", "ff", "dp16kd", "mult18")}
KEYS = {"zynq": ("name", "description", "family", "part", "ps", "clock_mhz", "dma_width_bits", "resources"),
        "ecp5": ("name", "description", "family", "part", "package", "speed", "oscillator_mhz", "clock_mhz",
                 "baud", "resources")}
ECP5_PART = re.compile(r"LFE5U(M|M5G)?-(12|25|45|85)F")
ECP5_PACKAGES = ("CABGA256", "CABGA381", "CABGA554", "CABGA756", "CSFBGA285")


class BoardError(UsageError):
    """A board file that cannot be used."""


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    part: str
    ps: str | None                  # zynq only
    clock_mhz: float
    dma_width_bits: int | None      # zynq only
    resources: dict                 # the family's RESOURCES -> count
    path: str
    family: str = "zynq"
    package: str | None = None      # ecp5 only, from here on
    speed: int | None = None
    oscillator_mhz: float | None = None
    baud: int | None = None

    def usage(self, estimate) -> dict:
        """What the :class:`~finngen.compile.resources.Resources` ``estimate`` (priced in Xilinx
        7-series units) takes of this board, in the keys of :attr:`resources`."""
        if self.family == "ecp5":
            from ..compile import ecp5
            return ecp5.usage(estimate)
        return asdict(estimate)

    def fits(self, estimate) -> bool:
        """Whether ``estimate`` fits: what the planner's fit test asks."""
        used = self.usage(estimate)
        return all(used[key] <= self.resources[key] for key in self.resources)


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
                         "dma_width_bits, resources; or family: ecp5 and its keys)")

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

    family = data.get("family", "zynq")
    if family not in FAMILIES:
        fail("family", f"must be one of {', '.join(FAMILIES)}, not {family!r}")
    allowed = KEYS[family]
    unknown = [key for key in data if key not in allowed]
    if unknown:
        fail(str(unknown[0]), f"is not a board key (the keys of {family} boards are: {', '.join(allowed)})")
    name = get("name", str, bool, "a non-empty string")
    clock = get("clock_mhz", (int, float), lambda v: 1 <= v <= 1000, "a clock in MHz between 1 and 1000")
    keys = RESOURCES[family]
    if not isinstance(data.get("resources"), dict):
        fail("resources", f"must map {', '.join(keys)} to counts")
    resources = {r: get(f"resources.{r}", int, lambda v: v > 0, "a positive integer") for r in keys}
    description = str(data.get("description", name))
    if family == "ecp5":
        part = get("part", str, ECP5_PART.fullmatch, "an ECP5 device such as LFE5U-85F or LFE5UM5G-85F")
        return Board(name, description, part, None, float(clock), None, resources, where, family,
                     package=get("package", str, lambda v: v in ECP5_PACKAGES, f"one of {', '.join(ECP5_PACKAGES)}"),
                     speed=get("speed", int, lambda v: v in (6, 7, 8), "a speed grade 6, 7 or 8"),
                     oscillator_mhz=float(get("oscillator_mhz", (int, float), lambda v: 8 <= v <= 400,
                                              "the board oscillator in MHz, between 8 and 400")),
                     baud=get("baud", int, lambda v: 1200 <= v <= 12_000_000,
                              "a UART baud rate between 1200 and 12000000"))
    part = get("part", str, bool, "an FPGA part number such as xc7z020clg400-1")
    ps = get("ps", str, lambda v: v in PS_KINDS, f"one of {', '.join(PS_KINDS)}")
    dma = get("dma_width_bits", int, lambda v: v >= 8 and v % 8 == 0, "a multiple of 8 bits")
    return Board(name, description, part, ps, float(clock), dma, resources, where)


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
