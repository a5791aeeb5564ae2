"""A finngen accelerator on a PYNQ board: nnabla-shaped images in, nnabla's float32 output out.

Written by ``finngen build``. ``codec.py`` is a copy of finngen's own, so the input checks, the
word packing and the float32 epilogue are exactly those of ``finngen run``; this module only
moves the words through the overlay's AXI DMA (``axi_dma_0``).
"""
from pathlib import Path

import numpy as np

from . import codec

HERE = Path(__file__).resolve().parent
SPEC = codec.load(HERE)
# Each image's output goes to its own row, starting where a DMA memory word may start without
# the realignment engine: 128 bytes suits every AXI DMA memory width (up to 1024 bits).
ROW_ALIGN = 128
DEFAULT_BATCH = 1024


class OverlayError(RuntimeError):
    """The overlay is missing or is not the one this driver was built with."""


class Accelerator:
    """The overlay, loaded; :meth:`run` takes batches of up to ``batch`` images per DMA transfer."""

    def __init__(self, bitfile=None, batch=DEFAULT_BATCH):
        from pynq import Overlay, allocate
        bitfile = Path(bitfile) if bitfile else HERE.parent / f"{SPEC['overlay']}.bit"
        if not bitfile.is_file():
            raise OverlayError(f"{bitfile}: no such overlay (copy {SPEC['overlay']}.bit and .hwh from the "
                               "build's vivado/output/ next to it, or pass --bitfile)")
        self.overlay = Overlay(str(bitfile))
        self._check_dma(self.overlay.ip_dict.get("axi_dma_0"))
        self.dma = self.overlay.axi_dma_0
        dma, interface = SPEC["dma"], SPEC["interface"]
        beats_in = int(np.prod(SPEC["input"]["shape"])) // interface["in_lanes"]
        self.in_bytes = beats_in * dma["in_width"] // 8
        self.out_bytes = interface["out_beats"] * dma["out_width"] // 8
        # one send moves the whole batch; the DMA's length register bounds it
        self.batch = max(1, min(batch, dma["max_transfer_bytes"] // self.in_bytes))
        row = -(-self.out_bytes // ROW_ALIGN) * ROW_ALIGN
        self.inputs = allocate(shape=(self.batch, self.in_bytes), dtype=np.uint8)
        self.outputs = allocate(shape=(self.batch, row), dtype=np.uint8)

    @staticmethod
    def _check_dma(ip):
        if ip is None:
            raise OverlayError("the overlay has no axi_dma_0: it was not built by this finngen build")
        widths = {"c_m_axis_mm2s_tdata_width": SPEC["dma"]["in_width"],
                  "c_s_axis_s2mm_tdata_width": SPEC["dma"]["out_width"]}
        for name, width in widths.items():
            if int(ip["parameters"][name]) != width:
                raise OverlayError(f"the overlay's DMA has {name} = {ip['parameters'][name]}, this driver "
                                   f"expects {width}: use the overlay of the same build")

    def run(self, x) -> np.ndarray:
        """nnabla's output (N, *output shape) float32 for images ``x`` (N, *input shape)."""
        stream = codec.encode_input(SPEC["input"], x)
        words = codec.pack_frames(SPEC["interface"], stream, SPEC["dma"]["in_width"]).reshape(len(stream), -1)
        out = np.empty((len(stream), self.out_bytes), np.uint8)
        send, recv = self.dma.sendchannel, self.dma.recvchannel
        for start in range(0, len(stream), self.batch):
            n = min(self.batch, len(stream) - start)
            self.inputs[:n] = words[start:start + n]
            send.transfer(self.inputs[:n])
            # the accelerator ends each image's output with TLAST, which ends an S2MM transfer
            for i in range(n):
                recv.transfer(self.outputs[i])
                recv.wait()
            send.wait()
            out[start:start + n] = self.outputs[:n, :self.out_bytes]
        scores = codec.unpack_frames(SPEC["interface"], out, SPEC["output"]["stream_shape"])
        return codec.decode_output(SPEC["output"], scores)
