"""The board's side of the serial link (:mod:`finngen.board.frames`): UART in, accelerator,
UART out, in one component that an ECP5 top level clocks and wires to the pins.

Requests are unpacked into input words and buffered for a whole frame, because the UART cannot
wait while the accelerator is busy; replies are sent as the accelerator's words come (it waits
for the UART). The verdict on a request (its CRC and length) is known only after its last
byte, so a reply starts once both the verdict and the first output word are there.
"""
import functools
import operator

from amaranth.hdl import Cat, Module, Mux, ResetInserter, Signal, Value
from amaranth.lib import io, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from ..hw.accelerator import Accelerator
from . import frames
from .uart import UartRx, UartTx, check_divisor

__all__ = ["crc16_update", "FrameReceiver", "FrameSender", "SerialAccelerator"]


def _crc16_step(crc: int, byte: int) -> int:
    """One byte of the CRC in Python (MSB first, no reflection, as ``binascii.crc_hqx``)."""
    crc ^= byte << 8
    for _ in range(8):
        crc = ((crc << 1) ^ frames.CRC_POLY if crc & 0x8000 else crc << 1) & 0xFFFF
    return crc


def crc16_update(crc: Value, byte: Value) -> Value:
    """The CRC of :mod:`~finngen.board.frames` after one more byte, as logic. The CRC is linear
    over GF(2): each new bit is the XOR of the old bits and byte bits whose unit vectors set it
    (a bit-serial description would nest eight multiplexers deep and blow up the netlist)."""
    bits = []
    for j in range(16):
        terms = ([crc[i] for i in range(16) if _crc16_step(1 << i, 0) >> j & 1]
                 + [byte[i] for i in range(8) if _crc16_step(0, 1 << i) >> j & 1])
        bits.append(functools.reduce(operator.xor, terms))
    return Cat(*bits)


def _positive(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")
    return value


class FrameReceiver(wiring.Component):
    """Request frames (bytes) in, the accelerator's input words and one status per frame out.

    Parameters
    ----------
    word_bytes : int
        Bytes per input word.
    words : int
        Input words per frame: the payload is always ``word_bytes * words`` bytes long.
    timeout : int
        Clock cycles without a byte after which a frame is given up (bytes were lost).

    Members
    -------
    i : ``In(stream.Signature(8))``, the UART's bytes (never held off)
    o : ``Out(stream.Signature(8 * word_bytes))``
    status : ``Out(stream.Signature(2))``, :data:`frames.OK`, ``BAD_CRC`` or ``BAD_LENGTH``
    abort : ``Out(1)``, one cycle when a frame was given up: what it sent on must be discarded
    """

    def __init__(self, word_bytes: int, words: int, timeout: int):
        self.word_bytes, self.words = _positive("word_bytes", word_bytes), _positive("words", words)
        self.timeout = _positive("timeout", timeout)
        super().__init__({"i": In(stream.Signature(8)), "o": Out(stream.Signature(8 * word_bytes)),
                          "status": Out(stream.Signature(2)), "abort": Out(1)})

    def elaborate(self, platform):
        m = Module()
        payload = self.word_bytes * self.words
        crc = Signal(16)
        length = Signal(16)
        count = Signal(range(max(payload, 2) + 1))
        word = Signal(8 * self.word_bytes)
        lane = Signal(range(self.word_bytes + 1))
        byte = self.i.payload
        m.d.comb += self.i.ready.eq(1)
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(self.status.ready):
            m.d.sync += self.status.valid.eq(0)
        silent = Signal(range(self.timeout + 1))
        m.d.sync += [silent.eq(Mux(self.i.valid, 0, silent + 1)), self.abort.eq(0)]

        def give_up_when_silent():
            with m.If(silent == self.timeout):
                m.d.sync += [self.abort.eq(1), self.o.valid.eq(0)]
                m.next = "SYNC"

        with m.FSM():
            with m.State("SYNC"):
                with m.If(self.i.valid & (byte == frames.REQUEST)):
                    m.d.sync += [crc.eq(frames.CRC_INIT), count.eq(0), lane.eq(0)]
                    m.next = "LENGTH"
            with m.State("LENGTH"):
                give_up_when_silent()
                with m.If(self.i.valid):
                    m.d.sync += [crc.eq(crc16_update(crc, byte)), length.eq(Cat(length[8:], byte)),
                                 count.eq(count + 1)]
                    with m.If(count == 1):
                        m.d.sync += count.eq(0)
                        m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                give_up_when_silent()
                with m.If(self.i.valid):
                    m.d.sync += [crc.eq(crc16_update(crc, byte)), count.eq(count + 1),
                                 word.eq(Cat(word[8:], byte)), lane.eq(lane + 1)]
                    with m.If(lane == self.word_bytes - 1):
                        # the buffer in front of the accelerator holds a whole frame: never full
                        m.d.sync += [self.o.payload.eq(Cat(word[8:], byte)), self.o.valid.eq(1), lane.eq(0)]
                    with m.If(count == payload - 1):
                        m.d.sync += count.eq(0)
                        m.next = "CRC"
            with m.State("CRC"):
                give_up_when_silent()
                with m.If(self.i.valid):
                    m.d.sync += [crc.eq(Cat(crc[8:], byte ^ crc[:8])), count.eq(count + 1)]
                    with m.If(count == 1):
                        m.next = "VERDICT"
            with m.State("VERDICT"):
                # the received CRC was XORed into the computed one: zero when they agree
                m.d.sync += [self.status.payload.eq(Mux(length != payload, frames.BAD_LENGTH,
                                                        Mux(crc != 0, frames.BAD_CRC, frames.OK))),
                             self.status.valid.eq(1)]
                m.next = "SYNC"
        return m


class FrameSender(wiring.Component):
    """A reply frame (bytes) per frame of output words and status.

    Parameters
    ----------
    word_bytes : int
        Bytes per output word.
    words : int
        Output words per frame.

    Members
    -------
    i : ``In(stream.Signature(8 * word_bytes))``
    status : ``In(stream.Signature(2))``
    o : ``Out(stream.Signature(8))``, to the UART
    """

    def __init__(self, word_bytes: int, words: int):
        self.word_bytes, self.words = _positive("word_bytes", word_bytes), _positive("words", words)
        super().__init__({"i": In(stream.Signature(8 * word_bytes)), "status": In(stream.Signature(2)),
                          "o": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        payload = self.word_bytes * self.words
        crc = Signal(16)
        words = Signal(range(self.words + 1))
        lane = Signal(range(self.word_bytes))
        sent = self.o.valid & self.o.ready
        covered = Signal()      # the CRC covers the header and the payload
        header = Signal(range(4))
        # the header after the start byte: status, then the payload length
        fields = [self.status.payload, payload & 0xFF, payload >> 8]

        with m.If(sent & covered):
            m.d.sync += crc.eq(crc16_update(crc, self.o.payload))
        with m.FSM():
            with m.State("WAIT"):
                m.d.comb += [self.o.payload.eq(frames.REPLY), self.o.valid.eq(self.status.valid & self.i.valid)]
                with m.If(sent):
                    m.d.sync += [crc.eq(frames.CRC_INIT), header.eq(0), words.eq(0), lane.eq(0)]
                    m.next = "HEADER"
            with m.State("HEADER"):
                m.d.comb += [self.o.payload.eq(Mux(header == 0, fields[0], Mux(header == 1, fields[1], fields[2]))),
                             self.o.valid.eq(1), covered.eq(1)]
                with m.If(sent):
                    m.d.sync += header.eq(header + 1)
                    with m.If(header == 2):
                        m.d.comb += self.status.ready.eq(1)
                        m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                m.d.comb += [self.o.payload.eq(self.i.payload.word_select(lane, 8)), self.o.valid.eq(self.i.valid),
                             covered.eq(1)]
                with m.If(sent):
                    m.d.sync += lane.eq(lane + 1)
                    with m.If(lane == self.word_bytes - 1):
                        m.d.comb += self.i.ready.eq(1)
                        m.d.sync += [lane.eq(0), words.eq(words + 1)]
                        with m.If(words == self.words - 1):
                            m.next = "CRC_LOW"
            with m.State("CRC_LOW"):
                m.d.comb += [self.o.payload.eq(crc[:8]), self.o.valid.eq(1)]
                with m.If(sent):
                    m.next = "CRC_HIGH"
            with m.State("CRC_HIGH"):
                m.d.comb += [self.o.payload.eq(crc[8:]), self.o.valid.eq(1)]
                with m.If(sent):
                    m.next = "WAIT"
        return m


class SerialAccelerator(wiring.Component):
    """An accelerator behind the serial link: requests on ``rx``, replies on ``tx``.

    Parameters
    ----------
    accelerator : :class:`~finngen.hw.accelerator.Accelerator`
    divisor : int
        Clock cycles per UART bit (clock frequency over baud rate).
    timeout : int
        Clock cycles of silence in the middle of a request after which the board gives the
        request up and resets the accelerator, so that a lost byte costs one frame, not the link.

    Members
    -------
    rx : ``In(1)``; tx : ``Out(1)``
    busy : ``Out(1)``, a frame is on its way through (for an activity LED)
    """

    def __init__(self, accelerator: Accelerator, divisor: int, timeout: int):
        if not isinstance(accelerator, Accelerator):
            raise TypeError(f"accelerator must be an Accelerator, not {accelerator!r}")
        self.accelerator, self.divisor, self.timeout = accelerator, divisor, _positive("timeout", timeout)
        self.in_bytes, self.out_bytes = accelerator.in_width // 8, accelerator.out_width // 8
        self.in_words = accelerator.stages[0].beats_in
        check_divisor(divisor)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        acc = self.accelerator
        m.submodules.uart_rx = rx = UartRx(self.divisor)
        m.submodules.receiver = receiver = FrameReceiver(self.in_bytes, self.in_words, self.timeout)
        buffer = SyncFIFOBuffered(width=acc.in_width, depth=self.in_words)
        sender = FrameSender(self.out_bytes, acc.out_beats)
        # a request given up leaves part of a frame inside: start the datapath afresh
        abort = ResetInserter(receiver.abort)
        m.submodules.buffer, m.submodules.accelerator, m.submodules.sender = abort(buffer), abort(acc), abort(sender)
        m.submodules.uart_tx = tx = UartTx(self.divisor)
        m.d.comb += rx.rx.eq(self.rx)
        wiring.connect(m, rx.o, receiver.i)
        m.d.comb += [buffer.w_data.eq(receiver.o.payload), buffer.w_en.eq(receiver.o.valid),
                     receiver.o.ready.eq(buffer.w_rdy),
                     acc.i.payload.eq(buffer.r_data), acc.i.valid.eq(buffer.r_rdy), buffer.r_en.eq(acc.i.ready),
                     sender.i.payload.eq(acc.o.payload.data), sender.i.valid.eq(acc.o.valid),
                     acc.o.ready.eq(sender.i.ready)]
        wiring.connect(m, receiver.status, sender.status)
        wiring.connect(m, sender.o, tx.i)
        m.d.comb += [self.tx.eq(tx.tx), self.busy.eq(buffer.r_rdy | acc.o.valid)]
        if platform is not None:    # on a board: the USB UART, and LED 0 for activity
            uart = platform.request("uart", 0, dir="-")
            m.submodules.rx_pin = rx_pin = io.Buffer("i", uart.rx)
            m.submodules.tx_pin = tx_pin = io.Buffer("o", uart.tx)
            m.submodules.led_busy = led = io.Buffer("o", platform.request("led", 0, dir="-"))
            m.d.comb += [self.rx.eq(rx_pin.i), tx_pin.o.eq(self.tx), led.o.eq(self.busy)]
        return m
