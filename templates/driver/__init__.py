"""A finngen accelerator on a PYNQ board: nnabla-shaped images in, nnabla's float32 output out.

Written by ``finngen build``. ``codec.py`` is a copy of finngen's own, so the input checks, the
word packing and the float32 epilogue are exactly those of ``finngen run``; this module only
moves the words through the overlay's AXI DMA (``axi_dma_0``): one send and one receive per
batch, whatever its size, because the accelerator ends only the batch's last frame with TLAST
(the DMA's TLAST on the input's last word says which frame that is).
"""
from pathlib import Path

import numpy as np

from . import codec

HERE = Path(__file__).resolve().parent
SPEC = codec.load(HERE)
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
        # one send and one receive move the whole batch; the DMA's length register bounds both
        longest = max(self.in_bytes, self.out_bytes)
        self.batch = max(1, min(batch, dma["max_transfer_bytes"] // longest))
        self.inputs = allocate(shape=(self.batch, self.in_bytes), dtype=np.uint8)
        self.outputs = allocate(shape=(self.batch, self.out_bytes), dtype=np.uint8)

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
        x = np.asarray(x)
        codec.check_array(SPEC["input"], x)
        out = np.empty((len(x), self.out_bytes), np.uint8)
        send, recv = self.dma.sendchannel, self.dma.recvchannel
        for start in range(0, len(x), self.batch):
            n = min(self.batch, len(x) - start)
            stream = codec.encode_input(SPEC["input"], x[start:start + n], start)
            self.inputs[:n] = codec.pack_frames(SPEC["interface"], stream, SPEC["dma"]["in_width"]).reshape(n, -1)
            # the receive first, so that the output has somewhere to go from its first beat on
            recv.transfer(self.outputs[:n])
            send.transfer(self.inputs[:n])
            send.wait()
            recv.wait()
            out[start:start + n] = self.outputs[:n]
        scores = codec.unpack_frames(SPEC["interface"], out, SPEC["output"]["stream_shape"])
        return codec.decode_output(SPEC["output"], scores)
