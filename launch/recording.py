"""``reel record`` and ``reel replay``: the runs, their disks and their logs.

A recording never writes its base disks: each run works on a copy (raw) or
in memory loaded from the base. The log's header names each base by size
and content digest, and a replay refuses a base that differs.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from actors import VERSION
from actors.cpu import ElfError
from actors.cpu import parse as parse_elf
from actors.cpu.bus import MAX_RAM_MIB, RAM_BASE
from actors.cpu.elf import check_fits
from actors.image.backends import RawFile, file_digest
from actors.logger import DiskIdentity, LogError, LogHeader, read
from actors.logger.logfile import DIGESTED, FINGERPRINTED, FORMAT_VERSION, TOPOLOGY
from actors.schema import DIGESTS_ID

from . import _scratch
from .disks import SECTOR, Disk, DiskError, check_replaceable, fit_in_memory, parse
from .faults import FaultError, PlannedFault, for_run, plan, runtime_only
from .launcher import Launcher, RunResult
from .machines import ide_blkreplay
from .topology import Topology

RunWith = Callable[[Launcher], RunResult]
"""How the command line runs a launcher (with its signal handling)."""

PROGRESS_SECONDS = 2.0  # a pass over a disk that takes longer says how far it is, this often
DIGEST_EVERY = 64  # checkpoints between the log's seals (every actor's digest and a checksum)
LONG_LOG_BYTES = 4 << 20
"""A log this large (about a million checkpoints) is said as it is read."""


def identity(disk: Disk) -> DiskIdentity:
    size, digest = file_digest(disk.path, progress=_progress(f"reading {disk.path}", disk.path))
    return DiskIdentity(disk.path, size, digest)


def working_copy(base: str, folder: str, index: int) -> Disk:
    """A sparse copy of ``base`` for a run to write."""
    return identified_copy(base, folder, index)[0]


def identified_copy(base: str, folder: str, index: int) -> tuple[Disk, DiskIdentity]:
    """A sparse copy of ``base`` for a run to write, and the base's
    identity, from one read of it: the base's holes are not read, and
    blocks of zeros in its data stay holes in the copy."""
    target = os.path.join(folder, f"disk{index}.img")
    try:
        dst = open(target, "wb")
    except OSError as e:
        raise _copy_error(base, target, e) from None
    with dst:
        def keep(offset: int, block: bytes) -> None:
            if block.count(0) == len(block):
                return  # zeros stay a hole
            view = memoryview(block)
            try:
                while view:  # pwrite may write less than asked (a disk filling up): then the rest, or its error
                    written = os.pwrite(dst.fileno(), view, offset)
                    view, offset = view[written:], offset + written
            except OSError as e:
                raise _copy_error(base, target, e) from None

        size, digest = file_digest(base, on_data=keep, progress=_progress(f"copying {base}", base))
        try:
            dst.truncate(size)
        except OSError as e:
            raise _copy_error(base, target, e) from None
    return Disk("raw", target, size), DiskIdentity(base, size, digest)


def _copy_error(base: str, target: str, error: OSError) -> DiskError:
    """What went wrong writing the working copy of ``base``: the copy lives
    in the run's scratch folder, under TMPDIR, which is where room is short."""
    scratch_parent = os.path.dirname(os.path.dirname(target))
    hint = (f"; set TMPDIR to a folder with room for a copy of each disk's data (it is {scratch_parent})"
            if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else "")
    return DiskError(f"{target}: cannot write the working copy of {base}: {error.strerror or error}{hint}")


def _progress(what: str, path: str) -> Callable[[int], None]:
    """Says how far a pass over a large file has come: every
    PROGRESS_SECONDS once it has taken that long (a small disk says
    nothing)."""
    total = os.path.getsize(path)
    log = logging.getLogger("reel")
    next_word = time.monotonic() + PROGRESS_SECONDS

    def done(count: int) -> None:
        nonlocal next_word
        now = time.monotonic()
        if now >= next_word:
            next_word = now + PROGRESS_SECONDS
            log.info("%s: %s of %s (%d%%)", what, _size(count), _size(total), 100 * count // max(total, 1))
    return done


def _say_if_long(log: str) -> None:
    """A log of millions of checkpoints takes seconds to read and check
    (about 5 us a checkpoint) before anything starts: said, not silent."""
    with contextlib.suppress(OSError):  # (read says what is wrong with the file)
        size = os.path.getsize(log)
        if size >= LONG_LOG_BYTES:
            logging.getLogger("reel").info("reading %s (%s): every record is checked before the replay starts",
                                           log, _size(size))


def _size(count: int) -> str:
    return f"{count / (1 << 30):.1f} GiB" if count >= 1 << 30 else f"{count / (1 << 20):.0f} MiB"


def _prepared(bases: list[Disk], folder: str, backend: str,
              held: contextlib.ExitStack) -> tuple[list[Disk], list[DiskIdentity]]:
    """The disks a run works on and the bases' identities: working copies
    in ``folder`` (backend raw), each made in the same read of its base as
    its identity; or the bases themselves, for memory disks to load. Those
    stay locked against writers in ``held`` (the caller's, for the run):
    their disk actors load them as the run starts, after their identities
    are read, and a run writing one in between made a recording on a disk
    its log does not name."""
    if backend == "memory":
        fit_in_memory(bases)  # (checked before the bases are read for their identities: that takes a while)
        for disk in bases:
            held.enter_context(_unwritten(disk.path))
        return bases, [identity(d) for d in bases]
    with contextlib.ExitStack() as reading:
        for disk in bases:
            reading.enter_context(_unwritten(disk.path))
        copies = [identified_copy(d.path, folder, i) for i, d in enumerate(bases)]
    return [disk for disk, _ in copies], [ident for _, ident in copies]


def _digests(identities: list[DiskIdentity], backend: str) -> list[str] | None:
    """For memory disks, the content each must load (what the log names)."""
    return [i.digest for i in identities] if backend == "memory" else None


@contextlib.contextmanager
def _unwritten(path: str) -> Iterator[None]:
    """Hold a shared lock on a base while it is read: a run writing it (it
    holds the exclusive lock) would make its identity and copy a moment of
    a moving disk, which no replay could find again."""
    try:
        lock = RawFile(path, writable=False)
    except ValueError:
        raise DiskError(f"{path}: being written by another run (it holds the image's lock); record or replay "
                        "from it once that run has ended") from None
    try:
        yield
    finally:
        lock.close()


def _bases(specs: list[str]) -> list[Disk]:
    disks = [parse(spec, writable=False) for spec in specs]  # a run writes copies, never its bases
    for spec, disk in zip(specs, disks):
        if disk.backend != "raw":
            raise DiskError(f"disk {spec}: record and replay start from a disk image file")
    return disks


def _launch(topology: Topology, level: int, run_with: RunWith, liveness: float | None) -> RunResult:
    if liveness is not None:
        topology.run.liveness = liveness
    launcher = Launcher(topology, log_level=level, origin=topology.name)
    return run_with(launcher)


def record(name: str, image: bytes, disk_specs: list[str], log: str, latency: str, seed: int, backend: str,
           ram_mib: int, level: int, run_with: RunWith, console: str = "stdout",
           fault_specs: list[str] | None = None, digest_every: int = DIGEST_EVERY,
           liveness: float | None = None, overwrite: bool = False) -> RunResult:
    if digest_every < 1:
        raise DiskError(f"--digest-every {digest_every}: at least 1")
    bases = _bases(disk_specs)
    faults = plan(fault_specs or [], [d.size for d in bases], seed)
    log_path = _log_target(log, overwrite, [d.path for d in bases])
    try:
        return _record(name, image, bases, log_path, latency, seed, backend, ram_mib, level, run_with, console,
                       faults, digest_every, liveness)
    finally:
        _unclaim(log_path)


def _record(name: str, image: bytes, bases: list[Disk], log_path: str, latency: str, seed: int, backend: str,
            ram_mib: int, level: int, run_with: RunWith, console: str,
            faults: list[PlannedFault], digest_every: int, liveness: float | None) -> RunResult:
    with _scratch.scratch("record") as folder, contextlib.ExitStack() as held:
        disks, identities = _prepared(bases, folder, backend, held)
        header = {"format": FORMAT_VERSION, "reel_version": VERSION, "guest_name": name,
                  "guest_sha256": hashlib.sha256(image).hexdigest(), "guest_image": image,
                  "disks": [{"path": i.path, "size": i.size, "digest": i.digest} for i in identities],
                  "digested": list(DIGESTED), "digest_every": digest_every, "ram_mib": ram_mib,
                  "latency": latency, "seed": seed, "faults": [f.spec for f in faults], "schema": DIGESTS_ID}
        topology = ide_blkreplay("record", name, image, disks, log_path, header, ram_mib, latency, seed,
                                 base_digests=_digests(identities, backend), console=console,
                                 digest_every=digest_every, faults=[f.spec for f in faults])
        for_run(topology.faults, topology)
        return _launch(topology, level, run_with, liveness)


def _log_target(log: str, overwrite: bool, disks: list[str]) -> str:
    """The absolute path a recording may write its log to, checked and
    claimed before any actor starts: an existing log is kept unless
    ``overwrite``, and then only a regular file that no run holds (a disk in
    use, a log being written) is replaced; a base disk never becomes the
    log. A new log is created here, exclusively, so that of two recordings
    told the same new path one is refused instead of both writing it."""
    if not log.strip():
        raise FileNotFoundError("--log names no file (an empty path)")
    given = Path(log)
    if given.exists() and not given.is_file() and not given.is_dir():
        # /dev/stdout, a pipe, a terminal: the log is sealed as it grows and
        # read back by replay and inspect, so it needs a file.
        raise FileExistsError(f"{log}: is not a regular file (a pipe, a terminal or a device); "
                              "the log needs a file of its own")
    path = given.resolve()
    if path.exists():
        if any(os.path.samefile(path, disk) for disk in disks):
            raise FileExistsError(f"{log}: is one of the base disks; the log needs a file of its own")
        if path.is_dir():
            raise IsADirectoryError(f"{log}: is a folder; the log is a file")
        check_replaceable(log, path)
        # (Even an empty one: it may be another recording's claim, which
        # stays empty until its logger writes the header, seconds later.)
        if not overwrite:
            raise FileExistsError(f"{log}: already exists (use --force to replace it)")
        if not os.access(path, os.W_OK):
            raise PermissionError(f"{log}: cannot be written")
        return str(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{log}: no such directory {path.parent}")
    if not os.access(path.parent, os.W_OK):
        raise PermissionError(f"{log}: cannot write in {path.parent}")
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except FileExistsError:
        raise FileExistsError(f"{log}: already exists (another recording has just claimed it)") from None
    return str(path)


def _unclaim(path: str) -> None:
    """A log the recording never began to write (empty) is not left behind
    to be refused as existing by the next try."""
    with contextlib.suppress(OSError):
        if os.path.getsize(path) == 0:
            os.remove(path)


def replay(log: str, disk_specs: list[str], latency: str, seed: int, backend: str, level: int,
           run_with: RunWith, console: str = "stdout",
           fault_specs: list[str] | None = None, liveness: float | None = None) -> RunResult:
    """``fault_specs``: runtime faults only (crash, hang, links, garbage,
    reordered completions), drawn from ``seed``; the disk faults of the
    recording are in the log.
    ``liveness``: the run's bound on an actor's silence (default: the
    topology's, 3 s)."""
    faults = plan(fault_specs or [], None, seed)
    runtime_only(faults, "a replay injects no disk faults (the recording's are in the log, replayed as events)")
    _say_if_long(log)
    recorded = read(log)
    if recorded.being_written:
        raise LogError(log, "a recording is still writing this log; replay it once that recording has ended")
    header = recorded.header
    _check_replayable(log, header)
    specs = disk_specs or [d.path for d in header.disks]
    if len(specs) != len(header.disks):
        raise DiskError(f"the recording used {len(header.disks)} disk(s); {len(specs)} given")
    if not disk_specs:
        for index, then in enumerate(header.disks):
            if not os.path.exists(then.path):
                raise DiskError(f"disk {index}: {then.path}, the base the recording started from, is not there; "
                                "if it has moved, give each base in drive order with --disk")
    bases = _bases(specs)
    for index, (base, then) in enumerate(zip(bases, header.disks)):
        size = os.path.getsize(base.path)
        if size != then.size:  # known before a copy is made
            raise _not_the_base(index, base.path, f"size {size}", then)
    with _scratch.scratch("replay") as folder, contextlib.ExitStack() as held:
        disks, identities = _prepared(bases, folder, backend, held)
        for index, (base, now, then) in enumerate(zip(bases, identities, header.disks)):
            if (now.size, now.digest) != (then.size, then.digest):
                raise _not_the_base(index, base.path, f"size {now.size}, digest {now.digest}", then)
        # No disk fault is injected: what the guest saw of them is in the log.
        topology = ide_blkreplay("replay", header.guest_name, header.guest_image, disks, str(Path(log).resolve()),
                                 None, header.ram_mib, latency, seed, base_digests=_digests(identities, backend),
                                 console=console, digest_every=header.digest_every,
                                 faults=[f.spec for f in faults])
        for_run(topology.faults, topology)
        return _launch(topology, level, run_with, liveness)


def _not_the_base(index: int, path: str, found: str, then: DiskIdentity) -> DiskError:
    return DiskError(f"disk {index}: {path} ({found}) is not the base the recording started from "
                     f"({then.path}: size {then.size}, digest {then.digest})")


def _check_replayable(log: str, header: LogHeader) -> None:
    """A log this reel can replay: recorded on its topology, for a machine
    it can build, with seals and fingerprints of the actors it digests."""
    if header.topology != TOPOLOGY:
        raise LogError(log, f"recorded on topology {header.topology!r}; this reel replays {TOPOLOGY!r}")
    if header.schema != DIGESTS_ID:
        recorder = f"reel {header.reel_version}, messages, framing and machine {header.schema or 'not named'}"
        raise LogError(log, f"recorded by {recorder}; this reel's differ ({DIGESTS_ID}), so its replay could not "
                            "match: replay it with the reel that recorded it")
    if header.ram_mib > MAX_RAM_MIB:  # (the log's own check sees to the lower bound)
        raise LogError(log, f"header: ram_mib {header.ram_mib}, more than a machine has (at most {MAX_RAM_MIB})")
    try:  # the program the recording ran, as reel run checks one (its sha256 was checked as the log was read)
        check_fits(parse_elf(header.guest_image, header.guest_name), RAM_BASE, header.ram_mib << 20, header.guest_name)
    except ElfError as e:
        raise LogError(log, f"header: its guest program cannot run: {e}") from None
    if (tuple(header.digested), header.fingerprinted) != (DIGESTED, FINGERPRINTED):
        raise LogError(log, f"its seals carry the digests of {', '.join(header.digested)} (fingerprint "
                            f"{header.fingerprinted}); this reel compares {', '.join(DIGESTED)} (fingerprint "
                            f"{FINGERPRINTED})")


def inspect(log: str) -> dict[str, Any]:
    from actors.logger import describe
    from actors.logger.logfile import CheckpointRecord, EndRecord, SealRecord

    recorded = read(log)
    h = recorded.header
    out: dict[str, Any] = {
        "header": {"format": h.format, "reel_version": h.reel_version, "guest": h.guest_name,
                   "guest_sha256": h.guest_sha256, "ram_mib": h.ram_mib, "latency": h.latency, "seed": h.seed,
                   "topology": h.topology, "schema": h.schema, "digested": h.digested,
                   "digest_every": h.digest_every,
                   "faults": h.faults,
                   "disks": [{"path": d.path, "size": d.size, "digest": d.digest} for d in h.disks]},
        "summary": describe(recorded),
        "records": [],
    }
    for record in recorded.iter_records():
        if isinstance(record, CheckpointRecord):
            out["records"].append({"checkpoint": record.seq, "icount": record.icount,
                                   "events": [list(e) for e in record.events],
                                   "fingerprint": f"{record.fingerprint:02x}"})
        elif isinstance(record, SealRecord):
            out["records"].append({"digests_at": record.seq, "digests": dict(zip(h.digested, record.digests))})
        elif isinstance(record, EndRecord):
            out["records"].append({"end": True, "icount": record.icount, "exit_code": record.code,
                                   "state": record.state, "memory": record.memory, "disks": record.disks,
                                   "undelivered": [list(e) for e in record.undelivered]})
    return out


def observed(result: RunResult) -> str:
    """"faults observed: 3 duplicates dropped by ide, 5 malformed frames
    dropped by disk0" from a run's wire statistics; "" when none."""
    parts = []
    for actor, stats in result.stats.items():
        if stats.duplicates:
            parts.append(f"{stats.duplicates} duplicates dropped by {actor}")
        malformed = sum(stats.malformed.values())
        if malformed:
            parts.append(f"{malformed} malformed frames dropped by {actor}")
    return "faults observed: " + ", ".join(parts) if parts else ""


__all__ = ["FaultError", "LogError", "inspect", "observed", "record", "replay", "SECTOR"]
