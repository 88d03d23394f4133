"""The replay log: what a recording saw, in a form a replay can enforce.

Layout (format 5; format 4's end record had no undelivered events, and
format 3 had format 4's layout, but a replay of it would not match: the
messages whose bytes enter the digests changed)::

    MAGIC          8 bytes: "REELLOG" and the format version
    header         varint(length), msgpack LogHeader, CRC-32 of it (4 bytes LE)
    records ...    self-delimiting, no per-record framing
    TRAILER        8 bytes: "REELEND" and the format version, after the end record

Every record starts with a varint ``V``; its low two bits say what follows:

* ``V & 3 == 0``: a checkpoint that delivered nothing;
* ``V & 3 == 1``: a checkpoint that delivered one completion, the request
  after the last one delivered (id = previous id + 1), successfully;
* ``V & 3 == 2``: the same with two completions (previous + 1, previous + 2);
* ``V & 3 == 3``: a varint ``W`` follows; ``W & 3`` is the kind:

  - 0, a checkpoint in the general form: ``W >> 2`` events, each
    zigzag-varint(id - previous id - 1) << 1 | failed, and when failed the
    status as a varint;
  - 1, a seal: the full 16-byte digest of every digested actor (header
    ``digested``, in that order) at the checkpoint just before it, then the
    CRC-32 (4 bytes LE) of every byte since the previous seal (or since the
    header) up to this CRC;
  - 2, the end: varint(icount), zigzag-varint(exit code), the final cpu
    state and memory digests and each disk's digest (16 bytes each), the
    undelivered events (a varint count, then events as in a checkpoint),
    then a CRC-32 as in a seal. Undelivered events are the completions no
    checkpoint delivered, the guest having exited first: their disks
    carried them out all the same (actors.schema.Drain), and a replay
    fails again those that failed, so its disks end as the recording's.

For a checkpoint ``V >> 2`` is its icount minus the previous checkpoint's,
and one byte follows the events: the first byte of the digest of the
header's ``fingerprinted`` actor (the ide, which is an end of every
digested link, so its digest changes whenever any digested message does).

So the common checkpoint, one completion in submission order, is three
bytes. A seal follows every ``digest_every`` checkpoints (64 by default):
it pins every actor's full digest and lets the reader check everything
since the last seal; a flipped byte is reported as damage in the span of
records that seal covers (or at the record that no longer decodes).

Records are appended and flushed one by one as checkpoints complete, each
in one write (a seal or the end with its checksum, the end with the
trailer), so a killed recording leaves whole records after its last seal:
the reader takes them (they are unchecked, and the log is reported as
truncated) and a replay stops at its last checkpoint.

A checksum vouches only for bytes, so the reader also refuses records
that decode but that no recording writes, naming the record: a request
delivered twice (or left undelivered after its delivery), an icount,
request id or exit code past 64 bits, a failure whose status is no errno
value (1 to ``schema.MAX_STATUS``), a seal anywhere but right after each
``digest_every``-th checkpoint or none there (the cpu and blkreplay give
their full digests where the header puts seals: seals elsewhere would
never be compared), and an end before the last checkpoint.

The trailer tells the two ways a log can stop short of its end record
apart: only a finished recording ends with it (a cut one does so by chance
once in 2**64), so records that stop making sense, or stop altogether,
before a trailer are damage, and without one a cut.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
import zlib
from array import array
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Iterator, overload

import msgspec

from ..schema import MAX_STATUS, sealed

MAGIC = b"REELLOG\x05"
TRAILER = b"REELEND\x05"
FORMAT_VERSION = 5
DIGEST_BYTES = 16
CRC_BYTES = 4
SHORT_FORMS = 3  # V & 3 in 0..2: a checkpoint with that many in-order successful events
WORD = 1 << 64  # icounts, request ids and exit codes travel as 64-bit integers: a log's must fit
ESCAPE = 3
KIND_CHECKPOINT, KIND_SEAL, KIND_END = 0, 1, 2

# What this reel records and can replay: the topology, the actors whose
# full digests every seal carries (in this order), and the one whose digest
# fingerprints every checkpoint.
TOPOLOGY = "ide-blkreplay"
DIGESTED = ("cpu", "ide", "blkreplay")
FINGERPRINTED = "ide"


class LogError(Exception):
    """A log that cannot be used: ``record`` (0 = the header) and ``offset``
    say where; for damage found by a seal's checksum, ``last_record`` and
    ``end_offset`` close the span it covers."""

    def __init__(self, path: str, what: str, record: int | None = None, offset: int | None = None,
                 last_record: int | None = None, end_offset: int | None = None) -> None:
        if record is None:
            where = ""
        elif last_record == -1:
            where = f": records {record} to the end (byte offsets {offset} to {end_offset})"
        elif last_record is not None and last_record != record:
            where = f": records {record} to {last_record} (byte offsets {offset} to {end_offset})"
        else:
            where = f": record {record} (byte offset {offset})"
        super().__init__(f"{path}{where}: {what}")
        self.record = record
        self.offset = offset
        self.last_record = last_record
        self.end_offset = end_offset


class DiskIdentity(msgspec.Struct):
    """A disk the recording started from: its size and content digest
    (``actors.image.backends.DIGEST_CHUNK``: xxh3-128 over the xxh3-128 of
    each MiB)."""

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
    digested: list[str]  # actors whose full digests the seals carry, in that order
    digest_every: int  # checkpoints between seals
    ram_mib: int
    latency: str = "none"
    seed: int = 0
    topology: str = TOPOLOGY
    faults: list[str] = []
    fingerprinted: str = FINGERPRINTED  # the actor whose digest's first byte every checkpoint keeps
    # The recording reel's messages, framing and machine (actors.schema.
    # DIGESTS_ID): the digests are of frames of messages, so only a reel
    # that sends the same ones, cut alike, for a machine that behaves alike,
    # can match them. ("": a reel from before the header named it.)
    schema: str = ""


@dataclass
class CheckpointRecord:
    seq: int
    icount: int
    events: list[tuple[int, int]]  # (request id, status), in delivery order
    fingerprint: int  # first byte of the fingerprinted actor's digest here


@dataclass
class SealRecord:
    seq: int  # the checkpoint whose digests these are
    digests: list[str]


@dataclass
class EndRecord:
    icount: int
    code: int
    state: str
    memory: str
    disks: list[str] = field(default_factory=list)
    undelivered: list[tuple[int, int]] = field(default_factory=list)  # (request id, status) no checkpoint delivered


Record = CheckpointRecord | SealRecord | EndRecord


# --- varints ------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _zigzag(n: int) -> int:
    return n << 1 if n >= 0 else ((-n) << 1) - 1


def _unzigzag(n: int) -> int:
    return n >> 1 if not n & 1 else -((n + 1) >> 1)


class _OutOfData(Exception):
    """A record runs past the end of the file: torn, or damaged."""


class _Cursor:
    def __init__(self, data: bytes, pos: int) -> None:
        self.data, self.pos = data, pos

    def varint(self) -> int:
        shift = value = 0
        data = self.data
        while True:
            if self.pos >= len(data):
                raise _OutOfData()
            byte = data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:  # (70 bits: a 64-bit number and the bits a record packs beside it)
                raise ValueError("a varint longer than 10 bytes")

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise _OutOfData()
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out


# --- writing -------------------------------------------------------------------------


def _locked_for_writing(path: str) -> BinaryIO:
    """``path`` opened empty for writing, under an exclusive lock this
    writer holds until it closes: another recording told the same path is
    refused, and ``--force`` will not replace a log being written. Emptied
    only once locked (opening with "wb" would cut another's log first)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise LogError(path, "another recording is writing this log") from None
    except OSError:
        pass  # a file system without locks: nothing to hold
    try:
        os.ftruncate(fd, 0)
        return os.fdopen(fd, "wb")
    except OSError:
        os.close(fd)
        raise


class LogWriter:
    """Appends records to a log file, each written through as it comes.

    Invariant: ``crc`` is the CRC-32 of every byte written since the last
    seal (or the header), ``icount`` and ``last_id`` those of the last
    checkpoint written."""

    def __init__(self, path: str, header: LogHeader) -> None:
        self.path = path
        self.digest_every = header.digest_every
        self.file: BinaryIO = _locked_for_writing(path)
        encoded = msgspec.msgpack.encode(header)
        self.file.write(MAGIC + _varint(len(encoded)) + encoded + zlib.crc32(encoded).to_bytes(CRC_BYTES, "little"))
        self.header_bytes = self.file.tell()
        self.crc = 0
        self.record_bytes = 0
        self.records = 0
        self.events = 0
        self.icount = 0
        self.last_id = -1
        self.file.flush()

    def _write(self, data: bytes, closes_span: bool = False, then: bytes = b"") -> None:
        """Append ``data`` (and, when it closes a span, the span's CRC, then
        ``then``) in one write: a killed recording is cut between records,
        not inside one."""
        self.crc = zlib.crc32(data, self.crc)
        if closes_span:
            data += (self.crc & 0xFFFFFFFF).to_bytes(CRC_BYTES, "little")
            self.crc = 0
        self.file.write(data + then)
        self.file.flush()

    def checkpoint(self, record: CheckpointRecord) -> None:
        """Append ``record``; the caller seals after every ``digest_every``."""
        delta = record.icount - self.icount
        if delta < 0:
            raise ValueError(f"checkpoint {record.seq} at icount {record.icount} comes before the previous "
                             f"one's {self.icount}: icounts can't go backwards")
        events = record.events
        n = len(events)
        in_order = n < SHORT_FORMS and all(status == 0 and request == self.last_id + 1 + i
                                           for i, (request, status) in enumerate(events))
        if in_order:
            out = bytearray(_varint(delta << 2 | n))
            self.last_id += n
        else:
            out = bytearray(_varint(delta << 2 | ESCAPE) + _varint(n << 2 | KIND_CHECKPOINT))
            out += self._events(events)
        out.append(record.fingerprint)
        self.icount = record.icount
        self.records += 1
        self.events += n
        self._write(bytes(out))

    def seal(self, record: SealRecord) -> None:
        self._write(_varint(ESCAPE) + _varint(KIND_SEAL) + b"".join(bytes.fromhex(d) for d in record.digests),
                    closes_span=True)

    def end(self, record: EndRecord) -> None:
        self.record_bytes = self.file.tell() - self.header_bytes  # checkpoints and seals: what grows with a run
        payload = _varint(ESCAPE) + _varint(KIND_END) + _varint(record.icount) + _varint(_zigzag(record.code))
        payload += b"".join(bytes.fromhex(d) for d in (record.state, record.memory, *record.disks))
        payload += _varint(len(record.undelivered)) + self._events(record.undelivered)
        self._write(payload, closes_span=True, then=TRAILER)

    def _events(self, events: list[tuple[int, int]]) -> bytes:
        """Events in the general form, each id relative to the one before."""
        out = bytearray()
        for request, status in events:
            out += _varint(_zigzag(request - self.last_id - 1) << 1 | (1 if status else 0))
            if status:
                out += _varint(status)
            self.last_id = request
        return bytes(out)

    def close(self) -> None:
        self.file.close()

    @property
    def size(self) -> int:
        return self.file.tell()


def write_log(path: str, header: LogHeader, records: list[Record]) -> None:
    """Write a whole log (for tools and tests that edit one)."""
    writer = LogWriter(path, header)
    try:
        for record in records:
            if isinstance(record, CheckpointRecord):
                writer.checkpoint(record)
            elif isinstance(record, SealRecord):
                writer.seal(record)
            else:
                writer.end(record)
    finally:
        writer.close()


# --- reading -------------------------------------------------------------------------


class Checkpoints:
    """A log's checkpoints, kept in columns of machine integers: about 30
    bytes a checkpoint of one completion, against about 400 as objects (a
    log of a million checkpoints, ten minutes of recording, took 440 MB in
    each process that read it). Indexing gives a ``CheckpointRecord``,
    made as it is asked for; the position is its ``seq``.

    Invariant: ``first[i]`` is where checkpoint i's events begin in
    ``ids``/``statuses``, and ``first[len(self)]`` where they end."""

    def __init__(self) -> None:
        self.icounts = array("Q")
        self.fingerprints = bytearray()
        self.first = array("Q", [0])
        self.ids = array("Q")
        self.statuses = array("I")  # (0 to MAX_STATUS, 2**31 - 1)

    def append(self, icount: int, events: list[tuple[int, int]], fingerprint: int) -> None:
        self.icounts.append(icount)
        self.fingerprints.append(fingerprint)
        for request, status in events:
            self.ids.append(request)
            self.statuses.append(status)
        self.first.append(len(self.ids))

    def __len__(self) -> int:
        return len(self.icounts)

    @overload
    def __getitem__(self, seq: int) -> CheckpointRecord: ...

    @overload
    def __getitem__(self, seq: slice) -> list[CheckpointRecord]: ...

    def __getitem__(self, seq: int | slice) -> CheckpointRecord | list[CheckpointRecord]:
        if isinstance(seq, slice):
            return [self[i] for i in range(*seq.indices(len(self)))]
        if seq < 0:
            seq += len(self)
        if not 0 <= seq < len(self):
            raise IndexError(f"no checkpoint {seq} (the log has {len(self)})")
        begin, end = self.first[seq], self.first[seq + 1]
        events = list(zip(self.ids[begin:end], self.statuses[begin:end]))
        return CheckpointRecord(seq, self.icounts[seq], events, self.fingerprints[seq])

    def __iter__(self) -> Iterator[CheckpointRecord]:
        return (self[seq] for seq in range(len(self)))

    @property
    def events(self) -> int:
        return len(self.ids)

    @property
    def failed_events(self) -> int:
        return len(self.statuses) - self.statuses.count(0)


@dataclass
class Log:
    """A log as read: its header, its checkpoints, seals and end record,
    and how it ended."""

    path: str
    header: LogHeader
    checkpoints: Checkpoints = field(default_factory=Checkpoints)
    seals: dict[int, list[str]] = field(default_factory=dict)  # checkpoint seq -> the digests sealed after it
    end: EndRecord | None = None
    truncated: str = ""  # why reading stopped early ("" when the log is whole)
    being_written: bool = False  # a recording held the log's lock as it was read: it may still grow
    size: int = 0
    header_bytes: int = 0
    end_bytes: int = 0

    def iter_records(self) -> Iterator[Record]:
        """The records in the order the log holds them."""
        for record in self.checkpoints:
            yield record
            digests = self.seals.get(record.seq)
            if digests is not None:
                yield SealRecord(record.seq, digests)
        if self.end is not None:
            yield self.end

    @property
    def records(self) -> list[Record]:
        """The records in order, as objects made now: a new list each time."""
        return list(self.iter_records())


def read(path: str) -> Log:
    """Read and check a whole log. Damage (a checksum that does not match,
    a record that does not decode) is an error naming the record(s) and
    byte offset(s); a log that stops without its end record (the recording
    was killed) is read up to its last whole record and noted in
    ``truncated``."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # before opening: a named pipe would wait for a writer
            raise LogError(path, "not a regular file")
        with open(path, "rb") as f:
            start = f.read(len(MAGIC))
            if len(start) < 7 and MAGIC.startswith(start):
                raise LogError(path, f"cut short: {len(start)} bytes, not even the magic")
            if start[:7] != MAGIC[:7]:  # before reading the rest: a big file that is not a log stays unread
                raise LogError(path, f"not a reel log (starts with {start!r})")
            data = start + f.read()
            being_written = _writer_holds(f.fileno())
    except OSError as e:
        raise LogError(path, f"cannot read: {e.strerror}") from None
    log = parse(data, path)
    log.being_written = being_written
    return log


def _writer_holds(fd: int) -> bool:
    """Whether a recording holds the log's exclusive lock (LogWriter), as it
    does until it closes the log."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False  # a file system without locks: nothing says
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def parse(data: bytes, path: str = "<log>") -> Log:
    """``read`` on a log's bytes; ``path`` names it in errors."""
    header, pos = _read_header(path, data)
    log = Log(path, header, size=len(data), header_bytes=pos)
    _Reader(path, data, pos, header, log).run()
    return log


def _read_header(path: str, data: bytes) -> tuple[LogHeader, int]:
    if data[:7] != MAGIC[:7]:
        raise LogError(path, f"not a reel log (starts with {data[:8]!r})")
    if len(data) < 8 or data[7] != FORMAT_VERSION:
        version = data[7] if len(data) > 7 else "missing"
        raise LogError(path, f"log format {version}, this reel reads format {FORMAT_VERSION}")
    cursor = _Cursor(data, len(MAGIC))
    try:
        length = cursor.varint()
        encoded = cursor.take(length)
        check = int.from_bytes(cursor.take(CRC_BYTES), "little")
    except (_OutOfData, ValueError):
        raise LogError(path, "the header is cut short", 0, len(MAGIC)) from None
    if zlib.crc32(encoded) != check:
        raise LogError(path, "header checksum mismatch: the log is damaged", 0, len(MAGIC))
    try:
        header = msgspec.msgpack.decode(encoded, type=LogHeader)
    except msgspec.MsgspecError as e:
        raise LogError(path, f"unreadable header: {e}", 0, len(MAGIC)) from None
    wrong = _header_fault(header)
    if wrong:
        raise LogError(path, f"header: {wrong}", 0, len(MAGIC))
    return header, cursor.pos


def _header_fault(h: LogHeader) -> str:
    """What makes a header that decodes unusable, "" if nothing. Its
    checksum held, so this is a log written wrong or edited with care."""
    if h.format != FORMAT_VERSION:
        return f"says format {h.format} under the magic of format {FORMAT_VERSION}"
    if hashlib.sha256(h.guest_image).hexdigest() != h.guest_sha256:
        return (f"the guest program's sha256 is {hashlib.sha256(h.guest_image).hexdigest()}, "
                f"not the {h.guest_sha256} it names")
    if h.ram_mib < 1 or h.digest_every < 1:
        return f"ram_mib {h.ram_mib} and digest_every {h.digest_every} must both be at least 1"
    if not h.digested or len(set(h.digested)) != len(h.digested) or h.fingerprinted not in h.digested:
        return f"digested actors {h.digested} must be distinct and include the fingerprinted {h.fingerprinted!r}"
    for index, disk in enumerate(h.disks):
        if disk.size < 0 or len(disk.digest) != 2 * DIGEST_BYTES or not _is_hex(disk.digest):
            return f"disk {index} ({disk.path}): size {disk.size} and digest {disk.digest!r} are not an identity"
    return ""


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


class _Reader:
    """Decodes records into the log, checking each span at the seal (or
    end) closing it: damage anywhere fails the whole read, so what the log
    holds when it returns is vouched for up to the last seal.

    Invariant: ``span_start``/``span_record`` are where the current span
    (the records after the last seal) began."""

    def __init__(self, path: str, data: bytes, pos: int, header: LogHeader, log: Log) -> None:
        self.path, self.header, self.log = path, header, log
        # A finished recording ends with the trailer: its records are what
        # comes before it, and must run to an end record.
        self.finished = data.endswith(TRAILER) and len(data) - len(TRAILER) >= pos
        self.data = data[:-len(TRAILER)] if self.finished else data
        self.cursor = _Cursor(self.data, pos)
        self.number = 1  # record numbers: 0 is the header
        self.seq = self.icount = 0
        self.last_id = -1
        # Every request id a checkpoint delivered so far: those below
        # ``all_below``, and those in ``delivered_above`` (ids are delivered
        # about in order, so the set stays small, not one entry per id).
        self.all_below = 0
        self.delivered_above: set[int] = set()
        self.span_start, self.span_record = pos, 1
        self.seal_due = False  # the last checkpoint is one the header says a seal follows

    def run(self) -> None:
        data = self.data
        while self.cursor.pos < len(data):
            start = self.cursor.pos
            try:
                record = self._record()
                if isinstance(record, (SealRecord, EndRecord)):
                    self._check_span()
            except _OutOfData:
                self._cut_short(f"its last record (record {self.number}, byte offset {start}) is cut short",
                                f"record {self.number} (byte offset {start}) runs past the end")
                return
            except ValueError as e:
                # The damage lies after the last seal (which vouches for all before it).
                raise LogError(self.path, f"malformed record {self.number} (byte offset {start}): {e}",
                               self.span_record, self.span_start, self.number, self.cursor.pos) from None
            self._keep(record)
            self.number += 1
            if isinstance(record, (SealRecord, EndRecord)):
                self.span_start, self.span_record = self.cursor.pos, self.number
            if isinstance(record, EndRecord):
                self._after_end(start)
                return
        self._cut_short(f"it stops after record {self.number - 1} without an end record",
                        f"its records stop at record {self.number - 1} without the end record")

    def _keep(self, record: Record) -> None:
        if isinstance(record, CheckpointRecord):
            self.log.checkpoints.append(record.icount, record.events, record.fingerprint)
        elif isinstance(record, SealRecord):
            self.log.seals[record.seq] = record.digests
        else:
            self.log.end = record

    def _after_end(self, start: int) -> None:
        """Only the trailer may follow the end record (the checksum vouched
        for it): all of it, or, in a log cut inside it, a part of it."""
        pos, data = self.cursor.pos, self.data
        rest = data[pos:]
        self.log.end_bytes = pos - start + len(TRAILER)
        if rest and (self.finished or not TRAILER.startswith(rest)):
            raise LogError(self.path, f"{len(rest)} bytes that are not the trailer follow the end record: the log is "
                                      "damaged", self.number, pos)

    def _cut_short(self, why: str, as_damage: str) -> None:
        """The records stop before an end record: a recording cut short, or,
        in a log that ends with the trailer, damage that made the records
        read differently (``as_damage`` says how)."""
        if self.finished:
            raise LogError(self.path, f"{as_damage} of a log that ends as a finished recording does: the log is "
                                      "damaged", self.span_record, self.span_start, -1, len(self.data))
        self.log.truncated = why + " (the recording was cut short; records after the last seal are unchecked)"

    def _check_span(self) -> None:
        """The checksum at the cursor covers span_start up to it."""
        covered_end = self.cursor.pos
        check = int.from_bytes(self.cursor.take(CRC_BYTES), "little")
        if zlib.crc32(self.data[self.span_start:covered_end]) != check:
            raise LogError(self.path, "checksum mismatch: the log is damaged", self.span_record, self.span_start,
                           self.number, covered_end + CRC_BYTES)

    def _record(self) -> Record:
        c = self.cursor
        v = c.varint()
        form = v & 3
        if form != ESCAPE:
            events = [(self.last_id + 1 + i, 0) for i in range(form)]
            return self._checkpoint(v >> 2, events, short=True)
        w = c.varint()
        kind = w & 3
        if kind == KIND_CHECKPOINT:
            return self._checkpoint(v >> 2, self._events(w >> 2))
        if v >> 2 or w >> 2:
            raise ValueError(f"a record of kind {kind} with an icount step or a count")
        if kind == KIND_SEAL:
            if not self.seal_due:
                raise ValueError(f"a seal after checkpoint {self.seq - 1}, where digest_every "
                                 f"{self.header.digest_every} puts none")
            self.seal_due = False
            return SealRecord(self.seq - 1, [c.take(DIGEST_BYTES).hex() for _ in self.header.digested])
        self._no_seal_due()
        if kind == KIND_END:
            icount = c.varint()
            code = _unzigzag(c.varint())
            state, memory = c.take(DIGEST_BYTES).hex(), c.take(DIGEST_BYTES).hex()
            disks = [c.take(DIGEST_BYTES).hex() for _ in self.header.disks]
            if not self.icount <= icount < WORD:
                raise ValueError(f"the end at icount {icount} comes before checkpoint {self.seq - 1}'s {self.icount}"
                                 if icount < self.icount else f"the end at icount {icount}, past 64 bits")
            if not -WORD // 2 <= code < WORD // 2:
                raise ValueError(f"the end's exit code {code}, past 64 bits")
            return EndRecord(icount, code, state, memory, disks, self._events(c.varint(), "the end's undelivered"))
        raise ValueError(f"unknown record kind {kind}")

    def _no_seal_due(self) -> None:
        if self.seal_due:
            raise ValueError(f"no seal after checkpoint {self.seq - 1}, where digest_every "
                             f"{self.header.digest_every} puts one")

    def _events(self, n: int, where: str = "") -> list[tuple[int, int]]:
        if n > len(self.data) - self.cursor.pos:
            raise _OutOfData()  # each event takes a byte at least
        events = []
        last = self.last_id
        for _ in range(n):
            word = self.cursor.varint()
            request = last + 1 + _unzigzag(word >> 1)
            status = self.cursor.varint() if word & 1 else 0
            if word & 1 and not 0 < status <= MAX_STATUS:
                raise ValueError(f"{where or f'checkpoint {self.seq}'}: request {request} failed with status "
                                 f"{status}, which is no errno value")
            self._deliver(request, where)
            events.append((request, status))
            last = request
        return events

    def _deliver(self, request: int, where: str = "") -> None:
        """Note that ``request`` is delivered (or, at the end, undelivered);
        ``where``: "" for the checkpoint being read."""
        if 0 <= request < WORD and not self._delivered(request):
            self.delivered_above.add(request)
            while self.all_below in self.delivered_above:
                self.delivered_above.remove(self.all_below)
                self.all_below += 1
            return
        where = where or f"checkpoint {self.seq}"  # (said only when something is wrong: this runs per event)
        if self._delivered(request):
            # blkreplay hands each request to the ide once: a second
            # delivery is one the recording never made.
            raise ValueError(f"{where}: request {request} was delivered already")
        raise ValueError(f"{where}: request id {request}")

    def _delivered(self, request: int) -> bool:
        return request < self.all_below or request in self.delivered_above

    def _checkpoint(self, step: int, events: list[tuple[int, int]], short: bool = False) -> CheckpointRecord:
        self._no_seal_due()
        if short:  # (the general form's events are noted as they are read)
            for request, _ in events:
                self._deliver(request)
        fingerprint = self.cursor.take(1)[0]
        if events:
            self.last_id = events[-1][0]
        self.icount += step
        if self.icount >= WORD:
            raise ValueError(f"checkpoint {self.seq}: icount {self.icount}, past 64 bits")
        record = CheckpointRecord(self.seq, self.icount, events, fingerprint)
        self.seal_due = sealed(self.seq, self.header.digest_every)
        self.seq += 1
        return record


def describe(log: Log) -> dict[str, Any]:
    """Counts and figures for ``reel inspect``. ``bytes_per_event`` counts
    the checkpoint and seal records, which grow with the run: the header
    (which holds the guest program) and the end record are fixed costs per
    log, given apart."""
    checkpoints = log.checkpoints
    events, failed = checkpoints.events, checkpoints.failed_events
    record_bytes = log.size - log.header_bytes - log.end_bytes
    return {
        "path": log.path,
        "bytes": log.size,
        "header_bytes": log.header_bytes,
        "end_bytes": log.end_bytes,
        "record_bytes": record_bytes,
        "checkpoints": len(checkpoints),
        "events": events,
        "failed_events": failed,
        "bytes_per_event": record_bytes / events if events else None,
        "bytes_per_checkpoint": record_bytes / len(checkpoints) if checkpoints else None,
        "complete": log.end is not None,
        "truncated": log.truncated,
        "being_written": log.being_written,
    }
