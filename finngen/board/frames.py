"""The framed protocol between the host and an ECP5 board's UART (pure Python, no hardware).

A request carries one image's input stream, a reply that image's output stream, each packed
as the build's interface packs them (``finngen.codec``), words little-endian::

    request:  0xA5  length (2 bytes, LE)  payload  CRC-16 (2 bytes, LE)
    reply:    0x5A  status  length (2 bytes, LE)  payload  CRC-16 (2 bytes, LE)

The CRC is CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF, as ``binascii.crc_hqx``) of
everything between the start byte and the CRC. The board always takes exactly one frame's
payload: a request whose length or CRC is wrong is still computed, but its reply says so in
``status`` (:data:`STATUS`), and the host discards it. :mod:`finngen.board.link` is the board's
side.
"""
from __future__ import annotations

import binascii

from ..errors import ToolError

REQUEST, REPLY = 0xA5, 0x5A
STATUS = {0: "ok", 1: "the board received a damaged request (CRC mismatch)",
          2: "the board received a request of the wrong length"}
OK, BAD_CRC, BAD_LENGTH = 0, 1, 2
CRC_INIT, CRC_POLY = 0xFFFF, 0x1021


class LinkError(ToolError):
    """A frame on the serial link was damaged, refused or missing."""


def crc16(data: bytes, crc: int = CRC_INIT) -> int:
    return binascii.crc_hqx(bytes(data), crc)


def request(payload: bytes) -> bytes:
    """The request frame carrying ``payload``."""
    body = len(payload).to_bytes(2, "little") + bytes(payload)
    return bytes([REQUEST]) + body + crc16(body).to_bytes(2, "little")


def reply(payload: bytes, status: int = OK) -> bytes:
    """The reply frame the board sends (the tests' reference for the hardware)."""
    body = bytes([status]) + len(payload).to_bytes(2, "little") + bytes(payload)
    return bytes([REPLY]) + body + crc16(body).to_bytes(2, "little")


def reply_size(payload_bytes: int) -> int:
    return 1 + 1 + 2 + payload_bytes + 2


def parse_reply(frame: bytes, payload_bytes: int, where: str = "reply") -> bytes:
    """The payload of a reply frame; :class:`LinkError` naming what is wrong otherwise."""
    frame = bytes(frame)
    if len(frame) < reply_size(payload_bytes):
        raise LinkError(f"{where}: the board sent {len(frame)} of {reply_size(payload_bytes)} bytes",
                        fix="check the port and --baud (the build's baud rate), and that the board runs this build")
    if frame[0] != REPLY:
        raise LinkError(f"{where}: starts with 0x{frame[0]:02x}, not the reply byte 0x{REPLY:02x}",
                        fix="check --baud and that the board runs this build's bitstream")
    body, crc = frame[1:-2], int.from_bytes(frame[-2:], "little")
    if crc16(body) != crc:
        raise LinkError(f"{where}: damaged on the way back (CRC 0x{crc:04x}, expected 0x{crc16(body):04x})",
                        fix="retry; if it persists, lower --baud in the build's board file")
    status, length = body[0], int.from_bytes(body[1:3], "little")
    if status != OK:
        raise LinkError(f"{where}: {STATUS.get(status, f'unknown status {status}')}",
                        fix="retry; if it persists, check the cable and --baud")
    if length != payload_bytes:
        raise LinkError(f"{where}: {length} payload bytes, expected {payload_bytes}",
                        fix="flash the bitstream of this build")
    return body[3:]
