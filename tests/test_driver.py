"""The board driver, run end to end against the RTL simulation through a stand-in for PYNQ.

The stand-in ``pynq`` gives the driver what a board does: ``Overlay`` with an ``axi_dma_0``
whose channels check what PYNQ's check (idle, alignment, length), and ``allocate``. Behind the
DMA, the block design's stream adapters and the accelerator itself are the build's Verilog in
the RTL simulator, so the driver's own code moves every byte. One Verilator build serves the
whole module.
"""
import ast
import collections
import json
import sys
import types

import numpy as np
import pytest

from digits_data import load_split
from examples_models import MODELS
from finngen.board import boards, driver, vivado
from finngen import build, codec, host
from finngen.sim.buildsim import BuildSim
from finngen.cli import _built_network
from nnp_files import forward_saved

# the last layer's PE 2 makes 20-bit output beats: 24-bit words the DMA carries in 32 bits
FOLDING = """layers:
  '@digits_mlp/BinaryConnectAffine': {pe: 1, simd: 4}
  '@digits_mlp/BinaryConnectAffine_1': {pe: 2, simd: 8}
  '@digits_mlp/BinaryConnectAffine_2': {pe: 2, simd: 8}
  '@digits_mlp/BinaryConnectAffine_3': {pe: 2, simd: 2}
"""
PHYSICAL_BASE = 0x1000_0000


class Buffer(np.ndarray):
    """pynq's PynqBuffer: a view's physical address follows its offset in the allocation."""

    def __array_finalize__(self, obj):
        self.start = getattr(obj, "start", None)

    @property
    def physical_address(self):
        return PHYSICAL_BASE + self.__array_interface__["data"][0] - self.start


def allocate(shape, dtype):
    buffer = np.zeros(shape, dtype).view(Buffer)
    buffer.start = buffer.__array_interface__["data"][0]
    return buffer


class BlockDesign:
    """The overlay's programmable logic: the DMA's stream ends, the subset converters and the
    accelerator, simulated when the driver asks for an output that has not been computed."""

    def __init__(self, directory, network, board):
        self.directory = directory
        self.interface = json.loads((directory / "build.json").read_text())["interface"]
        self.layout = vivado.dma_layout(self.interface)
        self.parameters = {  # what build_overlay.tcl sets, as the .hwh reports it
            "c_m_axis_mm2s_tdata_width": str(self.layout["in_width"]),
            "c_s_axis_s2mm_tdata_width": str(self.layout["out_width"]),
            "c_m_axi_mm2s_data_width": str(max(self.layout["in_width"], board.dma_width_bits)),
            "c_m_axi_s2mm_data_width": str(max(self.layout["out_width"], board.dma_width_bits))}
        self.beats_in = network.input.stream_shape.size // self.interface["in_lanes"]
        self.sent = bytearray()
        self.results = collections.deque()
        self.simulations = []

    def mm2s(self, data):
        self.sent += data

    def s2mm(self, region):
        if not self.results:
            self._simulate()
        frame = self.results.popleft()
        if len(frame) > len(region):
            raise RuntimeError("DMA Internal Error (the packet is longer than the buffer)")
        region[:len(frame)] = frame
        return len(frame)

    def _simulate(self):
        i = self.interface
        words = np.frombuffer(bytes(self.sent), np.uint8).reshape(-1, self.layout["in_width"] // 8)
        self.sent.clear()
        # to_accelerator keeps the low in_width bits of every word
        frames = words[:, :i["in_width"] // 8].reshape(-1, self.beats_in, i["in_width"] // 8)
        result = BuildSim(self.directory).run_words(frames)
        beats = result.words.reshape(len(frames), i["out_beats"], i["out_width"] // 8)
        # from_accelerator zero-extends every beat to the DMA's word
        pad = self.layout["out_width"] // 8 - beats.shape[-1]
        self.results.extend(np.pad(beats, ((0, 0), (0, 0), (0, pad))).reshape(len(frames), -1))
        self.simulations.append(len(frames))


class Channel:
    def __init__(self, design, send):
        self.design, self.send, self.busy = design, send, False
        key = "c_m_axi_mm2s_data_width" if send else "c_m_axi_s2mm_data_width"
        self.align = int(design.parameters[key]) // 8

    def transfer(self, array, start=0, nbytes=0):
        assert not self.busy, "transfer on a channel that is not idle"
        nbytes = nbytes or array.nbytes - start
        assert (array.physical_address + start) % self.align == 0, "unaligned DMA transfer"
        assert nbytes < 1 << vivado.LENGTH_BITS and array.flags.c_contiguous
        region = array.reshape(-1).view(np.uint8)[start:start + nbytes]
        self.busy = True
        if self.send:
            self.design.mm2s(region.tobytes())
        else:
            self.design.s2mm(region)

    def wait(self):
        assert self.busy, "wait without a transfer"
        self.busy = False


class Overlay:
    design = None   # set by the test

    def __init__(self, bitfile):
        with open(bitfile):     # PYNQ reads the .bit and its .hwh
            pass
        self.ip_dict = {"axi_dma_0": {"parameters": self.design.parameters}}
        self.axi_dma_0 = types.SimpleNamespace(sendchannel=Channel(self.design, True),
                                               recvchannel=Channel(self.design, False))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("driver")
    (root / "folding.yaml").write_text(FOLDING)
    out = build.build(build.Options(model=MODELS / "digits_mlp.nnp", fps="max", board="pynq-z1",
                                    out=root / "mlp", verify=0, folding=root / "folding.yaml"))
    meta = json.loads((out / "build.json").read_text())
    network = _built_network(out)
    driver.write_driver(out, network, meta)
    (out / "driver" / "digits_mlp.bit").write_text("bitstream")
    (out / "driver" / "digits_mlp.hwh").write_text("hand-off")
    return out, meta, network


@pytest.fixture
def board_driver(built, monkeypatch):
    """The driver package imported as on the board, with the stand-in pynq; returns its main."""
    out, meta, network = built
    Overlay.design = BlockDesign(out, network, boards.load(meta["board_file"]))
    monkeypatch.setitem(sys.modules, "pynq", types.SimpleNamespace(Overlay=Overlay, allocate=allocate))
    monkeypatch.syspath_prepend(str(out / "driver"))
    for name in [m for m in sys.modules if m.split(".")[0] == driver.PACKAGE]:
        monkeypatch.delitem(sys.modules, name)
    from finngen_driver.__main__ import main
    yield main, Overlay.design
    for name in [m for m in sys.modules if m.split(".")[0] == driver.PACKAGE]:
        del sys.modules[name]


def test_driver_output_equals_nnabla_bit_for_bit(built, board_driver, tmp_path, capsys):
    out, meta, _ = built
    main, design = board_driver
    images = load_split()[2][:20]
    np.save(tmp_path / "x.npy", images)
    assert main(["--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"), "--batch", "8"]) == 0
    got = np.load(tmp_path / "y.npy")
    expected = forward_saved(out / "model.nnp", meta["network"], images)
    assert got.dtype == np.float32 and got.shape == expected.shape == (20, 10)
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))
    assert design.simulations == [8, 8, 4], "one DMA send per batch"
    assert "20 images in" in capsys.readouterr().out


def test_driver_carries_the_codec_itself(built):
    out, meta, network = built
    package = out / "driver" / driver.PACKAGE
    assert (package / "codec.py").read_bytes() == open(codec.__file__, "rb").read()
    # the board has numpy and the standard library, not finngen
    tree = ast.parse((package / "codec.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    assert imported == {"json", "pathlib", "numpy"}
    spec = codec.load(package)
    assert spec["dma"] == {"in_width": 32, "out_width": 32, "max_transfer_bytes": (1 << 26) - 1}
    assert spec["interface"]["out_width"] == 24 and spec["overlay"] == "digits_mlp"
    arrays = spec["output"]["epilogue"]
    expected = host.spec(network)["output"]["epilogue"]
    assert arrays.keys() == expected.keys() and all(arrays[k].dtype == np.float32 for k in arrays)
    assert all(np.array_equal(arrays[k], expected[k]) for k in arrays)
    readme = (out / "driver" / "README.md").read_text()
    assert "python3 -m finngen_driver --input images.npy --output scores.npy" in readme
    assert "vivado/output/digits_mlp.bit" in readme


def test_driver_errors_are_one_line(built, board_driver, tmp_path, capsys):
    out, _, _ = built
    main, design = board_driver
    np.save(tmp_path / "bad.npy", np.zeros((2, 3, 3), np.float32))
    assert main(["--input", str(tmp_path / "bad.npy"), "--output", str(tmp_path / "y.npy")]) == 4
    err = capsys.readouterr().err
    assert err.startswith("finngen_driver: error: input has shape (2, 3, 3)") and err.count("\n") == 1

    np.save(tmp_path / "x.npy", np.zeros((2, 1, 8, 8), np.float32))
    assert main(["--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"),
                 "--bitfile", str(tmp_path / "none.bit")]) == 2
    assert "none.bit: no such overlay" in capsys.readouterr().err

    design.parameters["c_s_axis_s2mm_tdata_width"] = "64"
    assert main(["--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")]) == 2
    assert "c_s_axis_s2mm_tdata_width = 64, this driver expects 32" in capsys.readouterr().err
    assert design.simulations == []


def test_codec_words_of_any_memory_width():
    interface = {"in_lanes": 3, "in_bits": 8, "in_width": 24, "out_lanes": 2, "out_bits": 10, "out_width": 24,
                 "out_signed": True, "out_beats": 3}
    stream = np.arange(2 * 9).reshape(2, 1, 3, 3)
    words = codec.pack_frames(interface, stream, 32)
    assert words.shape == (2, 3, 4) and not words[..., 3].any()
    assert np.array_equal(words[..., :3], codec.pack_frames(interface, stream))
    scores = np.array([-512, 511, -1, 0, 7, -7] * 2).reshape(2, 1, 1, 6)
    packed = codec.pack_words(scores.reshape(2, 6), 10, 2, 32)
    assert np.array_equal(codec.unpack_frames(interface, packed.reshape(2, -1), (1, 1, 6)), scores)
