"""MLLP framing (HL7 v2 Minimal Lower Layer Protocol): a message travels as
0x0B <message> 0x1C 0x0D. The listener and the outbound client of the host
(`hub.mllp`) and the conformance tools frame with these."""
from __future__ import annotations

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"


def frame(message: bytes) -> bytes:
    return START_BLOCK + message + END_BLOCK


def complete_frame(buffer: bytearray) -> bytes | None:
    """The content of the first whole frame in `buffer`, which then keeps only what
    follows it; None (and `buffer` unchanged) while no frame has ended."""
    end = buffer.find(END_BLOCK)
    if end < 0:
        return None
    start = buffer.find(START_BLOCK, 0, end)
    content = bytes(buffer[start + 1 : end])
    del buffer[: end + len(END_BLOCK)]
    return content
