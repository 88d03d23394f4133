"""The envelope messages travel in, and its codec.

One ZeroMQ message carries one *frame*: the msgpack encoding of
``[src, dst, seq, [message, ...], bulk]`` where each message is
``[kind, fields...]``, followed by ``bulk`` frames of out-of-band payload.
``seq`` is the per-link sequence number of the first message; the i-th
message of the frame has number ``seq + i`` (0 for a control frame). Small messages sent in a burst
share a frame (batching: one wake-up and one decode for many messages); a
message with a bulk payload always travels alone, its payload in the one
following frame, sent without a copy.

Frames are cut at points fixed by what the actor does, never by timing (see
``actors._node``), so a machine frame is itself deterministic and is what the
digest covers. Control messages travel in frames of their own, with seq 0.
The frame's outer layout and the Hello message are frozen under
``PROTOCOL_VERSION``: peers of different builds must still be able to read
each other's Hello to refuse each other clearly.
"""

from __future__ import annotations

import struct

import msgspec

from .schema import AnyMessage


class Envelope(msgspec.Struct, array_like=True, gc=False):
    """Who sent the messages to whom, where they start on the link, and the
    messages."""

    src: str
    dst: str
    seq: int
    msgs: list[AnyMessage]
    bulk: int = 0


class RawEnvelope(msgspec.Struct, array_like=True):
    """The same frame with its messages left encoded: to salvage the good
    messages of a frame that holds a bad one."""

    src: str
    dst: str
    seq: int
    msgs: list[msgspec.Raw]
    bulk: int = 0


class Malformed(Exception):
    """A frame or message that cannot be accepted: ``kind`` names the class
    of defect (the statistics key), ``detail`` says exactly what was wrong."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


# The statistics keys of Malformed.kind, one per defect class.
UNDECODABLE = "undecodable"  # not msgpack at all
BAD_ENVELOPE = "bad-envelope"  # msgpack, but not [src, dst, seq, [msgs], bulk]
UNKNOWN_KIND = "unknown-kind"  # a message kind (tag) this schema does not have
BAD_FIELDS = "bad-fields"  # a known kind with the wrong field count or types
TRUNCATED = "truncated"  # fewer frames than the envelope announces
BULK_MISMATCH = "bulk-mismatch"  # bulk frames that no message field can hold
UNKNOWN_SENDER = "unknown-sender"  # src is not one of this node's peers
WRONG_DESTINATION = "wrong-destination"  # dst is not this node
BAD_SEQUENCE = "bad-sequence"  # a sequence number below 1


_SEQ32 = struct.Struct(">BI")


def seq_bytes(n: int) -> bytes:
    """A frame's sequence number, always as a 32-bit (or, past that, 64-bit)
    msgpack integer: one C call on the hot path instead of a size ladder.
    (Valid msgpack; a decoder reads it like any other integer.)"""
    return _SEQ32.pack(0xCE, n) if n < 0x100000000 else b"\xcf" + n.to_bytes(8, "big")


def uint(n: int) -> bytes:
    """The msgpack encoding of the unsigned integer ``n``."""
    if n < 0x80:
        return bytes((n,))
    if n < 0x100:
        return b"\xcc" + bytes((n,))
    if n < 0x10000:
        return b"\xcd" + n.to_bytes(2, "big")
    if n < 0x100000000:
        return b"\xce" + n.to_bytes(4, "big")
    return b"\xcf" + n.to_bytes(8, "big")


def array_header(n: int) -> bytes:
    """The msgpack header of an array of ``n`` elements."""
    if n < 16:
        return bytes((0x90 | n,))
    if n < 0x10000:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


class Codec:
    """Frames to envelopes, message bytes to messages, and back."""

    def __init__(self) -> None:
        self.encode = msgspec.msgpack.Encoder().encode
        self.decode_envelope = msgspec.msgpack.Decoder(Envelope).decode
        self.decode_raw_envelope = msgspec.msgpack.Decoder(RawEnvelope).decode
        self.decode_message = msgspec.msgpack.Decoder(AnyMessage).decode

    def frame_prefix(self, src: str, dst: str) -> bytes:
        """The constant start of every frame from ``src`` to ``dst``: the
        envelope's array header and its two names."""
        return b"\x95" + self.encode(src) + self.encode(dst)

    @staticmethod
    def classify_envelope(error: Exception) -> Malformed:
        """The Malformed that a frame's decoding error stands for."""
        kind = BAD_ENVELOPE if isinstance(error, msgspec.ValidationError) else UNDECODABLE
        return Malformed(kind, str(error))

    @staticmethod
    def classify(error: Exception) -> Malformed:
        """The Malformed that a message's decoding error stands for."""
        text = str(error)
        if isinstance(error, msgspec.ValidationError):
            unknown = text.startswith("Invalid value") and text.endswith("at `$[0]`")
            return Malformed(UNKNOWN_KIND if unknown else BAD_FIELDS, text)
        return Malformed(UNDECODABLE, text)
