"""``finngen run BUILD --backend board``: images to an ECP5 board over its USB UART and scores
back, one request frame per image (:mod:`finngen.board.frames`), with pyserial.

The arrays are those of ``--backend golden|rtl``: :func:`finngen.host.encode_input` and
:func:`finngen.host.decode_output` on either side, the build's interface packing the words.
"""
from __future__ import annotations

import sys
import time

import numpy as np

from .. import codec, host
from ..errors import UsageError
from . import frames

# seconds to wait for the reply on top of its bytes' transfer time (the accelerator's latency
# is microseconds; this covers USB scheduling)
REPLY_SLACK = 1.0
# a damaged or lost frame is sent again once; the pause outlasts the board's request timeout
# (bitstream.REQUEST_TIMEOUT_S), after which it waits for a fresh request
ATTEMPTS = 2
RETRY_PAUSE_S = 0.2


def requests(network, interface: dict, x) -> list:
    """The request frame of every image in ``x`` (nnabla's input layout)."""
    words = codec.pack_frames(interface, host.encode_input(network, x))
    return [frames.request(frame.tobytes()) for frame in words]


def reply_bytes(interface: dict) -> int:
    """Payload bytes of one reply: the output words of one frame."""
    return interface["out_beats"] * interface["out_width"] // 8


def decode_replies(network, interface: dict, replies) -> np.ndarray:
    """nnabla's output for the reply frames ``replies``; :class:`frames.LinkError` on a bad one."""
    size = reply_bytes(interface)
    return decode_payloads(network, interface, [frames.parse_reply(reply, size, where=f"image {k}")
                                                for k, reply in enumerate(replies)])


def decode_payloads(network, interface: dict, payloads) -> np.ndarray:
    words = np.frombuffer(b"".join(payloads), dtype=np.uint8).reshape(len(payloads), -1)
    shape = network.last.out_shape
    return host.decode_output(network, codec.unpack_frames(interface, words, (shape.height, shape.width,
                                                                            shape.channels)))


def run(network, interface: dict, x, port: str, baud: int) -> np.ndarray:
    """Run the images ``x`` on the board at ``port``; return nnabla's output for them."""
    import serial
    frames_out = requests(network, interface, x)
    payload_size = reply_bytes(interface)
    size = frames.reply_size(payload_size)
    timeout = REPLY_SLACK + 10 * (size + len(frames_out[0])) / baud if frames_out else REPLY_SLACK
    try:
        link = serial.Serial(port, baud, timeout=timeout)
    except (serial.SerialException, ValueError) as e:
        raise UsageError(f"cannot open the serial port {port}: {e}",
                         fix="plug the board's USB port in, check --port (ls /dev/ttyUSB*) and that you "
                             "may use it (the dialout group)") from None
    payloads = []
    with link:
        link.reset_input_buffer()
        for k, frame in enumerate(frames_out):
            for attempt in range(ATTEMPTS):
                link.write(frame)
                try:
                    payloads.append(frames.parse_reply(link.read(size), payload_size, where=f"image {k}"))
                    break
                except frames.LinkError as e:
                    if attempt == ATTEMPTS - 1:
                        raise
                    print(f"finngen: warning: {e.line()}; sending it again", file=sys.stderr, flush=True)
                    time.sleep(RETRY_PAUSE_S)
                    link.reset_input_buffer()
            if (k + 1) % 64 == 0:
                print(f"finngen: {k + 1} of {len(frames_out)} images", file=sys.stderr, flush=True)
    return decode_payloads(network, interface, payloads)
