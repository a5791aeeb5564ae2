"""8N1 UART receiver and transmitter at a fixed clock divisor, with stream interfaces.

The line carries a start bit (0), eight data bits least significant first and a stop bit (1);
one bit lasts ``divisor`` clock cycles (the clock frequency over the baud rate, rounded: the
receiver samples mid-bit, so a few percent of rounding error is harmless).
"""
from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UartRx", "UartTx", "MIN_DIVISOR", "check_divisor"]

# the receiver needs a mid-bit to sample at and a cycle to detect the start edge
MIN_DIVISOR = 4


def check_divisor(divisor):
    if not isinstance(divisor, int) or isinstance(divisor, bool) or divisor < MIN_DIVISOR:
        raise ValueError(f"UART divisor must be an integer of at least {MIN_DIVISOR} clock cycles per bit, "
                         f"not {divisor!r}")


class UartRx(wiring.Component):
    """Receives bytes from the ``rx`` line.

    A UART cannot be held off: a byte waits in ``o`` until taken, and one arriving before that
    replaces it and sets ``overrun`` (sticky). A stop bit that is not 1 drops the byte and sets
    ``framing_error`` (sticky).

    Parameters
    ----------
    divisor : int
        Clock cycles per bit.

    Members
    -------
    rx : ``In(1)``, the line (idle high; synchronised here)
    o : ``Out(stream.Signature(8))``
    overrun, framing_error : ``Out(1)``
    """

    def __init__(self, divisor: int):
        check_divisor(divisor)
        self.divisor = divisor
        super().__init__({"rx": In(1, init=1), "o": Out(stream.Signature(8)),
                          "overrun": Out(1), "framing_error": Out(1)})

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(self.divisor))
        bits = Signal(range(9))
        shift = Signal(8)

        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += timer.eq(self.divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(self.divisor - 1), bits.eq(0)]
                    # a start bit that is gone by mid-bit was a glitch
                    m.next = "DATA"
                    with m.If(rx):
                        m.next = "IDLE"
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [shift.eq(Cat(shift[1:], rx)), bits.eq(bits + 1), timer.eq(self.divisor - 1)]
                    with m.If(bits == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(rx):
                        m.d.sync += [self.o.payload.eq(shift), self.o.valid.eq(1)]
                        with m.If(self.o.valid & ~self.o.ready):
                            m.d.sync += self.overrun.eq(1)
                    with m.Else():
                        m.d.sync += self.framing_error.eq(1)
                    m.next = "IDLE"
        return m


class UartTx(wiring.Component):
    """Sends the bytes of ``i`` on the ``tx`` line, one every ten bit times.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit.

    Members
    -------
    i : ``In(stream.Signature(8))``
    tx : ``Out(1)``, idle high
    """

    def __init__(self, divisor: int):
        check_divisor(divisor)
        self.divisor = divisor
        super().__init__({"i": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.divisor))
        frame = Signal(10, init=1)      # start bit, data, stop bit; shifted out from bit 0
        left = Signal(range(11))
        m.d.comb += [self.tx.eq(frame[0]), self.i.ready.eq(left == 0)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [frame.eq(Cat(0, self.i.payload, 1)), left.eq(10), timer.eq(self.divisor - 1)]
        with m.Elif(left != 0):
            with m.If(timer == 0):
                m.d.sync += [frame.eq(Cat(frame[1:], 1)), left.eq(left - 1), timer.eq(self.divisor - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m
