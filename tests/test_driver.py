"""The board driver, run end to end against the RTL simulation through a stand-in for PYNQ.

The stand-in ``pynq`` gives the driver what a board does: ``Overlay`` with an ``axi_dma_0``
whose channels check what PYNQ's check (idle, alignment, length), and ``allocate``. Behind the
DMA, the block design's stream adapters and the accelerator itself are the build's Verilog in
the RTL simulator, so the driver's own code moves every byte. One Verilator build serves the
whole module.
"""
import ast
import collections
import sys
import types

import numpy as np
import pytest

from examples.digits_data import load_split
from examples_models import MODELS
from finngen.board import boards, driver, vivado
from finngen import build, codec, golden, host
from finngen.builddir import BuildDir
from finngen.sim.buildsim import BuildSim
from finngen.sim.streams import Traffic
from examples.nnp_files import forward_saved

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
    accelerator. A send is one packet (the MM2S channel sets TLAST on its last word); when the
    driver waits for a receive, the RTL simulation runs the packets sent so far as they are, and
    each packet of output, up to the TLAST the accelerator sets, fills one receive."""

    def __init__(self, directory, network, board):
        self.directory = directory
        self.interface = BuildDir.open(directory).interface
        self.layout = vivado.dma_layout(self.interface)
        self.parameters = {  # what build_overlay.tcl sets, as the .hwh reports it
            "c_m_axis_mm2s_tdata_width": str(self.layout["in_width"]),
            "c_s_axis_s2mm_tdata_width": str(self.layout["out_width"]),
            "c_m_axi_mm2s_data_width": str(max(self.layout["in_width"], board.dma_width_bits)),
            "c_m_axi_s2mm_data_width": str(max(self.layout["out_width"], board.dma_width_bits))}
        self.beats_in = network.input.stream_shape.size // self.interface["in_lanes"]
        self.packets = []
        self.results = collections.deque()
        self.sends, self.receives = [], []     # frames per DMA transfer

    def mm2s(self, data):
        words = np.frombuffer(data, np.uint8).reshape(-1, self.layout["in_width"] // 8)
        self.packets.append(words)
        self.sends.append(len(words) // self.beats_in)

    def s2mm(self, region):
        if not self.results:
            self._simulate()
        packet = self.results.popleft()
        if len(packet) > len(region):
            raise RuntimeError("DMA Internal Error (the packet is longer than the buffer)")
        assert len(packet) == len(region), "TLAST came before the end of the batch"
        region[:] = packet
        self.receives.append(len(packet) // (self.interface["out_beats"] * self.layout["out_width"] // 8))

    def _simulate(self):
        i = self.interface
        # to_accelerator keeps the low in_width bits of every word; one packet is one cocotb frame
        for words in self.packets:
            packet = words[None, :, :i["in_width"] // 8]
            result = BuildSim(self.directory).run_words(packet)
            assert len(result.last_beat_cycles) == 1, "one TLAST per packet"
            beats = result.words.reshape(-1, i["out_width"] // 8)
            # from_accelerator zero-extends every beat to the DMA's word
            pad = self.layout["out_width"] // 8 - beats.shape[-1]
            self.results.append(np.pad(beats, ((0, 0), (0, pad))).reshape(-1))
        self.packets.clear()


class Channel:
    def __init__(self, design, send):
        self.design, self.send, self.region = design, send, None
        key = "c_m_axi_mm2s_data_width" if send else "c_m_axi_s2mm_data_width"
        self.align = int(design.parameters[key]) // 8

    def transfer(self, array, start=0, nbytes=0):
        assert self.region is None, "transfer on a channel that is not idle"
        nbytes = nbytes or array.nbytes - start
        assert (array.physical_address + start) % self.align == 0, "unaligned DMA transfer"
        assert nbytes < 1 << vivado.LENGTH_BITS and array.flags.c_contiguous
        self.region = array.reshape(-1).view(np.uint8)[start:start + nbytes]
        if self.send:
            self.design.mm2s(self.region.tobytes())

    def wait(self):
        assert self.region is not None, "wait without a transfer"
        if not self.send:
            self.design.s2mm(self.region)
        self.region = None


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
    meta = BuildDir.open(out).meta
    network = BuildDir.open(out).network()
    driver.write_driver(BuildDir.open(out), network)
    (out / "driver" / "digits_mlp.bit").write_text("bitstream")
    (out / "driver" / "digits_mlp.hwh").write_text("hand-off")
    return out, meta, network


@pytest.fixture
def board_driver(built, monkeypatch):
    """The driver package imported as on the board, with the stand-in pynq; returns its main."""
    out, meta, network = built
    Overlay.design = BlockDesign(out, network, boards.load(meta.board_file))
    monkeypatch.setitem(sys.modules, "pynq", types.SimpleNamespace(Overlay=Overlay, allocate=allocate))
    monkeypatch.syspath_prepend(str(out / "driver"))
    for name in [m for m in sys.modules if m.split(".")[0] == driver.PACKAGE]:
        monkeypatch.delitem(sys.modules, name)
    from finngen_driver.__main__ import main
    yield main, Overlay.design
    for name in [m for m in sys.modules if m.split(".")[0] == driver.PACKAGE]:
        del sys.modules[name]


@pytest.mark.rtl
def test_driver_output_equals_nnabla_bit_for_bit(built, board_driver, tmp_path, capsys):
    out, meta, _ = built
    main, design = board_driver
    images = load_split()[2][:20]
    np.save(tmp_path / "x.npy", images)
    assert main(["--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"), "--batch", "8"]) == 0
    got = np.load(tmp_path / "y.npy")
    expected = forward_saved(out / "model.nnp", meta.network, images)
    assert got.dtype == np.float32 and got.shape == expected.shape == (20, 10)
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))
    assert design.sends == design.receives == [8, 8, 4], "one DMA send and one receive per batch"
    assert "20 images in" in capsys.readouterr().out


@pytest.mark.slow
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
    assert imported == {"json", "pathlib", "numpy", "ctypes", "ctypes.util"}   # ctypes: libm's expf for Softmax
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


@pytest.mark.slow
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
    assert design.sends == design.receives == []


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


@pytest.mark.rtl
def test_batches_split_at_the_dma_length_limit(built, board_driver, tmp_path, monkeypatch, capsys):
    out, meta, _ = built
    main, design = board_driver
    in_bytes = design.beats_in * design.layout["in_width"] // 8
    monkeypatch.setitem(sys.modules[driver.PACKAGE].SPEC["dma"], "max_transfer_bytes", 5 * in_bytes + 3)
    images = load_split()[2][20:32]
    np.save(tmp_path / "x.npy", images)
    assert main(["--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"), "--batch", "100"]) == 0
    assert design.sends == design.receives == [5, 5, 2]
    assert "(batches of 5," in capsys.readouterr().out
    expected = forward_saved(out / "model.nnp", meta.network, images)
    assert np.array_equal(np.load(tmp_path / "y.npy").view(np.uint32), expected.view(np.uint32))


@pytest.mark.parametrize("bits,lanes,width,signed", [
    (1, 7, 8, False), (1, 64, 64, False), (1, 3, 32, True), (8, 3, 32, False), (8, 4, 32, True),
    (16, 2, 32, True), (16, 1, 16, False), (4, 5, 24, True), (12, 2, 32, True), (11, 1, 16, True), (3, 3, 16, False)])
def test_codec_packs_like_the_bit_layout_says(bits, lanes, width, signed):
    """Every packing path against the layout spelled out bit by bit: element i of a beat at
    bits [i * bits, (i + 1) * bits) of the little-endian word, two's complement, zeros above."""
    rng = np.random.default_rng(bits * 100 + lanes)
    lo, hi = codec.input_range(bits, signed)
    values = rng.integers(lo, hi + 1, (3, 4 * lanes))
    words = codec.pack_words(values, bits, lanes, width)
    assert words.shape == (3, 4, width // 8) and words.dtype == np.uint8
    for n in range(3):
        for beat in range(4):
            word = int.from_bytes(words[n, beat].tobytes(), "little")
            expected = sum((int(v) & ((1 << bits) - 1)) << (i * bits)
                           for i, v in enumerate(values[n, beat * lanes:(beat + 1) * lanes]))
            assert word == expected
    back = codec.unpack_words(words, bits, lanes, signed)
    assert back.dtype == np.int64 and np.array_equal(back, values)


@pytest.mark.rtl
def test_accelerator_ends_a_batch_where_its_input_ends(built):
    """TLAST on the input's last frame only (how the DMA sends a batch) gives one output packet,
    TLAST on every frame gives one each; under random stalls on both sides."""
    out, _, network = built
    built_dir = BuildDir.open(out)
    interface = built_dir.interface
    stream = host.encode_input(network, load_split()[2][:6])
    frames = codec.pack_frames(interface, stream)
    expected = codec.pack_words(golden.forward(network, stream).reshape(6, -1), interface["out_bits"],
                                interface["out_lanes"], interface["out_width"])
    rtl = BuildSim(out)
    batch = rtl.run_words(frames.reshape(1, -1, frames.shape[-1]), Traffic(3, 0.7, 0.7, burst=4), name="batch")
    assert len(batch.last_beat_cycles) == 1 and np.array_equal(batch.words.reshape(-1), expected.reshape(-1))
    each = rtl.run_words(frames, Traffic(4, 0.7, 0.7, burst=4), name="each")
    assert len(each.last_beat_cycles) == 6 and np.array_equal(each.words.reshape(6, -1), expected.reshape(6, -1))
