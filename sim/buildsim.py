"""A build directory's accelerator in RTL simulation.

``finngen build --verify``, ``verify``, ``run --backend rtl``, ``testbench`` and the pytest tests
that every build carries in ``DIR/sim/`` go through :class:`BuildSim`: it packs the frames into
AXI4-Stream words, runs the build's cocotb testbench (``DIR/sim/tb_accelerator.py``, a copy of
:mod:`finngen.sim.tb_accelerator`) through :mod:`finngen.sim.runner`, and reads the words back.
The Verilator build is kept in ``DIR/sim/build-<simulator>`` and each run's files (log, spec,
waves) in ``DIR/sim/runs/<name>``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from finngen import codec, golden, host
from finngen.builddir import BuildDir
from finngen.frames import random_frames
from finngen.errors import MismatchError, UsageError

from . import probes, runner
from .streams import Traffic

TESTBENCH = "tb_accelerator.py"
# Files of DIR/sim/ besides the testbench: finngen/sim/template/ in the source tree.
TEMPLATE_FILES = ("README.md", "conftest.py", "test_accelerator.py")


def write_testbench(directory: Path):
    """Write ``DIR/sim/``: the cocotb testbench, its pytest runner and README."""
    sim = Path(directory) / "sim"
    sim.mkdir(exist_ok=True)
    package = resources.files("finngen.sim")
    (sim / TESTBENCH).write_text(package.joinpath(TESTBENCH).read_text())
    for name in TEMPLATE_FILES:
        (sim / name).write_text(package.joinpath("template", name).read_text())


@dataclass
class SimResult:
    """What came out of one run."""
    words: np.ndarray               # output words (frames, beats, bytes)
    stream: np.ndarray              # the same as the last layer's stream (frames, H, W, C)
    last_beat_cycles: list          # the cycle at which each frame's last output word left
    simulator: str
    waves: Path | None
    probes: dict                    # {stage instance: [beats as bit strings]} when probed

    @property
    def cycles_per_frame(self):
        """Steady-state cycles between consecutive frames (median of the later intervals), or
        None for a single frame."""
        gaps = np.diff(self.last_beat_cycles)
        if len(gaps) == 0:
            return None
        return float(np.median(gaps[len(gaps) // 2:]))


class BuildSim:
    """The accelerator of build directory ``directory`` in ``simulator``.

    ``network`` and ``folds`` default to the build's own (its model.nnp and folding.yaml);
    ``build --verify`` passes the ones it holds. With ``waves`` every run writes a trace and
    prints its path.
    """

    def __init__(self, directory, simulator="verilator", waves=False, network=None, folds=None):
        from finngen.compile import folding, pipeline
        built = BuildDir.open(directory)
        self.directory = built.path.resolve()
        self.interface = built.interface
        self.network = network or built.network()
        self.folds = folds or folding.load(built.folding, self.network)
        self.chain = pipeline.stages(self.network, self.folds)
        self.predicted = pipeline.cycles_per_frame(self.chain)
        self.simulator, self.waves = runner.simulator_name(simulator), waves
        self.verilog, self.sim = built.verilog, built.sim
        self.top = self.verilog.stem
        self.testbench = self.sim / TESTBENCH
        if not self.testbench.is_file():
            raise UsageError(f"{self.testbench} is missing", fix="rebuild with 'finngen build ... --force'")

    # -- inputs and expected outputs --------------------------------------------------------

    def random_frames(self, count, seed=0):
        """Seeded random input streams (count, H, W, C) covering the whole input range."""
        return random_frames(self.network, count, seed)

    def encode(self, images):
        """Images as nnabla's input variable takes them -> input stream (checked)."""
        return host.encode_input(self.network, images)

    def expected(self, stream):
        """The golden model's output stream."""
        return golden.forward(self.network, stream)

    def words(self, stream):
        """An output stream as the output words (frames, beats, bytes) the accelerator sends."""
        i = self.interface
        return codec.pack_words(np.asarray(stream).reshape(len(stream), -1), i["out_bits"], i["out_lanes"],
                                i["out_width"])

    def max_cycles(self, frames, traffic, reset_after=0):
        """When to give up: the pipeline's fill plus every frame at the predicted rate, four
        times over, slowed by the stalls."""
        cycles = (frames + len(self.chain) + 1) * self.predicted * 4 + 4 * reset_after + 1000
        return int(cycles / traffic.rate)

    # -- running ----------------------------------------------------------------------------

    def run(self, stream, traffic=Traffic(), *, name="run", check=True, probe=False, reset_after=0):
        """Run input ``stream`` (frames, H, W, C) through the RTL; return a :class:`SimResult`.

        With ``check`` the testbench compares every output word with the golden model's, and a
        difference raises :exc:`~finngen.errors.MismatchError` naming the first stage whose output
        differs (the run is repeated with probes). ``probe`` records every stage's output.
        A run that stops producing output ends after :meth:`max_cycles` with MismatchError."""
        stream = np.asarray(stream)
        expected = self.words(self.expected(stream)) if check else None
        result, outcome = self._simulate(codec.pack_frames(self.interface, stream), expected, traffic, name,
                                         probe, reset_after)
        if check and not outcome.passed:
            where = self.diagnose(stream, traffic, name, reset_after) if not probe else \
                probes.first_difference(self.chain, result.probes, probes.layer_streams(self.network, stream))
            raise MismatchError(f"the RTL output differs from the golden model: {where or _assertion(outcome.log)}",
                                fix=f"see {outcome.log}")
        return result

    def run_words(self, words, traffic=Traffic(), *, name="run"):
        """Run input words (frames, beats, bytes) as the DMA sends them; return a :class:`SimResult`."""
        return self._simulate(np.asarray(words, np.uint8), None, traffic, name, False, 0)[0]

    def _simulate(self, words, expected, traffic, name, probe, reset_after):
        runs = self.sim / "runs"
        test_dir = runs / name
        runs.mkdir(parents=True, exist_ok=True)
        np.save(runs / f"{name}-input.npy", words)
        if expected is not None:
            np.save(runs / f"{name}-expected.npy", expected)
        boundaries = probes.boundaries(self.chain) if probe else []
        spec = {"input": str(runs / f"{name}-input.npy"),
                "expected": None if expected is None else str(runs / f"{name}-expected.npy"),
                "output_words": [self.interface["out_beats"], self.interface["out_width"] // 8],
                "traffic": vars(traffic), "reset_after": int(reset_after),
                "max_cycles": self.max_cycles(len(words), traffic, reset_after),
                "probes": [{"name": b.name, "path": b.path} for b in boundaries]}
        suffix = "-waves" if self.waves else ""
        outcome = runner.run(self.verilog.read_text(), self.top, self.testbench,
                             self.sim / f"build-{self.simulator}{suffix}", test_dir, spec,
                             sim=self.simulator, waves=self.waves)
        if outcome.waves:
            print(f"finngen: waves: {outcome.waves}", file=sys.stderr, flush=True)
        data = outcome.result()
        if data is None:
            raise MismatchError(f"the RTL simulation failed: {'; '.join(runner.failure_lines(outcome.log, 1))}",
                                fix=f"see {outcome.log}")
        if data["timed_out"]:
            raise MismatchError(
                f"the RTL simulation stopped producing output: {data['frames_received']} of {len(words)} "
                f"frames after {data['cycles']:,} cycles ({self.predicted:,} cycles per frame predicted)",
                fix="this is a finngen bug: please report it with the model; --waves writes a trace")
        out = np.load(test_dir / "output.npy")
        shape = self.network.last.out_shape
        frames = out.reshape(-1, self.interface["out_beats"], out.shape[-1])     # a batch packet holds several
        stream = codec.unpack_frames(self.interface, frames, (shape.height, shape.width, shape.channels))
        return SimResult(out, stream, data["last_beat_cycles"], self.simulator, outcome.waves, data["probes"]), outcome

    def diagnose(self, stream, traffic=Traffic(), name="run", reset_after=0):
        """Rerun ``stream`` with every stage output recorded; the first stage that differs from
        the golden model (one line), or None."""
        result = self.run(stream, traffic, name=f"{name}-probes", check=False, probe=True, reset_after=reset_after)
        return probes.first_difference(self.chain, result.probes, probes.layer_streams(self.network, stream))

    def run_stage(self, name, frames=2, seed=0, traffic=None):
        """Run one stage alone (``name``: its instance name, see :meth:`stage_names`) on the
        golden model's input beats with seeded random stalls, checking its output beats against
        the golden model's; returns the :class:`~finngen.sim.streams.Result`."""
        k = self.stage_index(name)
        stage = self.chain[k]
        stream = self.random_frames(frames, seed)
        streams = probes.layer_streams(self.network, stream)
        in_beats = probes.input_beats(self.chain, stream) if k == 0 else probes.output_beats(self.chain[k - 1], streams)
        expected = probes.output_beats(stage, streams)
        traffic = traffic or Traffic(seed=seed, valid_prob=0.7, ready_prob=0.6)
        lane_bits = stage.out_type.bits
        max_cycles = int((1000 + 4 * (len(in_beats) + len(expected) + frames * stage.cycles)) / traffic.rate)
        return runner.run_stream_test(stage.component(), name, in_beats, expected, traffic,
                                      lane_bits=lane_bits, sim=self.simulator, max_cycles=max_cycles,
                                      work=self.sim / "stages", waves=self.waves)

    def stage_names(self):
        return [b.name for b in probes.boundaries(self.chain)]

    def stage_index(self, name):
        """The position of stage ``name`` in the pipeline; UsageError listing the names if none."""
        names = self.stage_names()
        if name not in names:
            raise UsageError(f"no stage {name!r} in {self.directory}", fix=f"choose one of {', '.join(names)}")
        return names.index(name)


def _assertion(log: Path) -> str:
    """The testbench's assertion message from a simulation log."""
    if log.exists():
        for line in log.read_text(errors="replace").splitlines():
            if "AssertionError" in line:
                return line.split("AssertionError:", 1)[-1].strip()
    return "the testbench failed"
