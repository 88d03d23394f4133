"""The replay log: what a recording saw, in a form a replay can enforce.

Layout::

    MAGIC (8 bytes, "REELLOG" + format version)
    frame: header          msgpack LogHeader
    frame: record ...      one per checkpoint (and digests, and the end)

    frame := varint(length) payload[length] check(2)

``check`` is the low 16 bits of a CRC-32 chained through every frame so
far, so a flipped byte, a lost frame or two frames swapped all show, at the
frame where it happened. Frames are appended and flushed as checkpoints
complete: a killed recording leaves whole frames and at most a torn last
one, which the reader reports and stops before.

Record payloads are compact (the common checkpoint is a handful of bytes):

* checkpoint: ``kind|n`` (one byte: kind in the low 2 bits, the number of
  events in the rest, 63 meaning "count follows as a varint"),
  varint(icount - previous checkpoint's icount), then per event
  zigzag-varint((id - previous id) << 1 | failed) and, if failed, the
  status as a varint; then one fingerprint byte per digested actor (the
  first byte of its digest at this checkpoint);
* digests: every ``digest_every`` checkpoints, varint(seq) then each
  digested actor's full 16-byte digest;
* end: varint(icount) zigzag-varint(exit code), the final state and memory
  digests and each disk's digest (16 bytes each).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Iterator

import msgspec

MAGIC = b"REELLOG\x01"
FORMAT_VERSION = 1
KIND_CHECKPOINT, KIND_DIGESTS, KIND_END = 1, 2, 3


class LogError(Exception):
    """A log that cannot be used: ``record`` (0 = the header) and ``offset``
    say where."""

    def __init__(self, path: str, what: str, record: int | None = None, offset: int | None = None) -> None:
        where = "" if record is None else f" at record {record} (byte offset {offset})"
        super().__init__(f"{path}{where}: {what}")
        self.record = record
        self.offset = offset


class DiskIdentity(msgspec.Struct):
    """A disk the recording started from: its size and content digest."""

    path: str
    size: int
    digest: str
    backend: str = "raw"


class LogHeader(msgspec.Struct):
    format: int
    reel_version: str
    guest_name: str
    guest_sha256: str
    guest_image: bytes  # the program itself: a replay needs nothing but the log and the disks
    disks: list[DiskIdentity]
    digested: list[str]  # actors whose digests the records carry, in record order
    digest_every: int
    ram_mib: int
    latency: str = "none"
    seed: int = 0
    topology: str = "ide-blkreplay"
    faults: list[str] = []


@dataclass
class CheckpointRecord:
    seq: int
    icount: int
    events: list[tuple[int, int]]  # (request id, status)
    fingerprints: bytes  # one byte per digested actor


@dataclass
class DigestsRecord:
    seq: int
    digests: list[str]


@dataclass
class EndRecord:
    icount: int
    code: int
    state: str
    memory: str
    disks: list[str] = field(default_factory=list)


Record = CheckpointRecord | DigestsRecord | EndRecord


# --- varints ------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _zigzag(n: int) -> int:
    return n << 1 if n >= 0 else ((-n) << 1) - 1


def _unzigzag(n: int) -> int:
    return n >> 1 if not n & 1 else -((n + 1) >> 1)


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def varint(self) -> int:
        shift = value = 0
        while True:
            if self.pos >= len(self.data):
                raise ValueError("varint runs past the end")
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError(f"needs {n} more bytes, {len(self.data) - self.pos} left")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out


# --- writing -------------------------------------------------------------------------


class LogWriter:
    """Appends frames to a log file, flushing each one."""

    def __init__(self, path: str, header: LogHeader) -> None:
        self.path = path
        self.file: BinaryIO = open(path, "wb")
        self.crc = 0
        self.records = 0
        self.events = 0
        self.icount = 0
        self.last_id = -1
        self.file.write(MAGIC)
        self._frame(msgspec.msgpack.encode(header))

    def _frame(self, payload: bytes) -> None:
        self.crc = zlib.crc32(payload, self.crc)
        self.file.write(_varint(len(payload)) + payload + (self.crc & 0xFFFF).to_bytes(2, "little"))
        self.file.flush()

    def checkpoint(self, record: CheckpointRecord) -> None:
        n = len(record.events)
        out = bytearray([KIND_CHECKPOINT | (min(n, 63) << 2)])
        if n >= 63:
            out += _varint(n)
        out += _varint(record.icount - self.icount)
        for request, status in record.events:
            out += _varint(_zigzag(request - self.last_id - 1) << 1 | (1 if status else 0))
            if status:
                out += _varint(status)
            self.last_id = request
        out += record.fingerprints
        self.icount = record.icount
        self.records += 1
        self.events += n
        self._frame(bytes(out))

    def digests(self, record: DigestsRecord) -> None:
        self._frame(bytes([KIND_DIGESTS]) + _varint(record.seq) + b"".join(bytes.fromhex(d) for d in record.digests))

    def end(self, record: EndRecord) -> None:
        payload = bytes([KIND_END]) + _varint(record.icount) + _varint(_zigzag(record.code))
        payload += b"".join(bytes.fromhex(d) for d in (record.state, record.memory, *record.disks))
        self._frame(payload)

    def close(self) -> None:
        self.file.close()

    @property
    def size(self) -> int:
        return self.file.tell()


# --- reading -------------------------------------------------------------------------


@dataclass
class Log:
    """A log as read: its header, its records, and how it ended."""

    path: str
    header: LogHeader
    records: list[Record]
    truncated: str = ""  # why reading stopped early ("" when the log is whole)
    size: int = 0

    @property
    def checkpoints(self) -> list[CheckpointRecord]:
        return [r for r in self.records if isinstance(r, CheckpointRecord)]

    @property
    def end(self) -> EndRecord | None:
        last = self.records[-1] if self.records else None
        return last if isinstance(last, EndRecord) else None


def read(path: str) -> Log:
    """Read and check a whole log. A damaged frame (bad check, bad content)
    is an error naming the record and offset; a torn last frame (the
    recording was killed while writing it) ends the log, noted in
    ``truncated``."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise LogError(path, f"cannot read: {e.strerror}") from None
    if data[:7] != MAGIC[:7]:
        raise LogError(path, f"not a reel log (starts with {data[:8]!r})")
    if data[7] != FORMAT_VERSION:
        raise LogError(path, f"log format {data[7]}, this reel reads format {FORMAT_VERSION}")
    frames = _frames(path, data)
    try:
        offset, payload = next(frames)
    except StopIteration:
        raise LogError(path, "no header: the log is empty", 0, len(MAGIC)) from None
    try:
        header = msgspec.msgpack.decode(payload, type=LogHeader)
    except msgspec.MsgspecError as e:
        raise LogError(path, f"unreadable header: {e}", 0, offset) from None
    log = Log(path, header, [], size=len(data))
    state = {"icount": 0, "last_id": -1, "seq": 0}
    try:
        for number, (offset, payload) in enumerate(frames, start=1):
            try:
                log.records.append(_decode(payload, header, state))
            except (ValueError, IndexError) as e:
                raise LogError(path, f"malformed record: {e}", number, offset) from None
    except _Torn as torn:
        log.truncated = str(torn)
    return log


class _Torn(Exception):
    pass


def _frames(path: str, data: bytes) -> Iterator[tuple[int, bytes]]:
    pos, crc, number = len(MAGIC), 0, 0
    while pos < len(data):
        start = pos
        cursor = _Cursor(data[pos:pos + 10])
        try:
            length = cursor.varint()
        except ValueError:
            raise _Torn(f"the last frame (record {number}, byte offset {start}) is cut short") from None
        pos += cursor.pos
        if pos + length + 2 > len(data):
            raise _Torn(f"the last frame (record {number}, byte offset {start}) is cut short")
        payload = data[pos:pos + length]
        crc = zlib.crc32(payload, crc)
        check = int.from_bytes(data[pos + length:pos + length + 2], "little")
        if check != crc & 0xFFFF:
            raise LogError(path, "checksum mismatch: the log is damaged", number, start)
        yield start, payload
        pos += length + 2
        number += 1


def _decode(payload: bytes, header: LogHeader, state: dict[str, int]) -> Record:
    c = _Cursor(payload)
    first = c.take(1)[0]
    kind = first & 3
    if kind == KIND_CHECKPOINT:
        n = first >> 2
        if n == 63:
            n = c.varint()
        icount = state["icount"] + c.varint()
        events = []
        for _ in range(n):
            word = c.varint()
            request = state["last_id"] + 1 + _unzigzag(word >> 1)
            status = c.varint() if word & 1 else 0
            events.append((request, status))
            state["last_id"] = request
        fingerprints = c.take(len(header.digested))
        state["icount"] = icount
        record = CheckpointRecord(state["seq"], icount, events, fingerprints)
        state["seq"] += 1
        return record
    if kind == KIND_DIGESTS:
        seq = c.varint()
        return DigestsRecord(seq, [c.take(16).hex() for _ in header.digested])
    if kind == KIND_END:
        icount = c.varint()
        code = _unzigzag(c.varint())
        state_digest, memory = c.take(16).hex(), c.take(16).hex()
        return EndRecord(icount, code, state_digest, memory, [c.take(16).hex() for _ in header.disks])
    raise ValueError(f"unknown record kind {kind}")


def fingerprint(digests: list[str]) -> bytes:
    """The per-checkpoint fingerprint: the first byte of each digest."""
    return bytes(bytes.fromhex(d)[0] for d in digests)


def describe(log: Log) -> dict[str, Any]:
    """Counts and figures for ``reel inspect``."""
    checkpoints = log.checkpoints
    events = sum(len(c.events) for c in checkpoints)
    failed = sum(1 for c in checkpoints for _, s in c.events if s)
    return {
        "path": log.path,
        "bytes": log.size,
        "checkpoints": len(checkpoints),
        "events": events,
        "failed_events": failed,
        "bytes_per_event": log.size / events if events else None,
        "complete": log.end is not None,
        "truncated": log.truncated,
    }
