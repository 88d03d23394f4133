"""The replay log's reader on logs written here (no run needed): every
flipped bit is damage, every cut is a truncation."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from actors.logger.logfile import (
    FORMAT_VERSION,
    CheckpointRecord,
    DiskIdentity,
    EndRecord,
    LogError,
    LogHeader,
    Record,
    SealRecord,
    TRAILER,
    parse,
    read,
    write_log,
)

DIGESTED = ["cpu", "ide", "blkreplay"]


GUEST = b"\x13\x00\x00\x00"


def header(digest_every: int) -> LogHeader:
    return LogHeader(format=FORMAT_VERSION, reel_version="test", guest_name="synthetic",
                     guest_sha256=hashlib.sha256(GUEST).hexdigest(), guest_image=GUEST,
                     disks=[DiskIdentity("d0.img", 1 << 20, "1" * 32)],
                     digested=DIGESTED, digest_every=digest_every, ram_mib=1)


def synthetic_records(rng: random.Random, checkpoints: int, digest_every: int) -> list[Record]:
    """Checkpoints in all three forms (in order, out of order, failed),
    seals every ``digest_every``, then the end record."""
    records: list[Record] = []
    icount, next_id = 0, 0
    digest = lambda: rng.randbytes(16).hex()  # noqa: E731
    for seq in range(checkpoints):
        # Steps of 96..127 and 12288..16383 end their varint with 0x03, an
        # end record's first byte; step 0 with two events starts with 0x02.
        icount += rng.choice((0, 1, 7, 100, 127, 300, 12300, 70000))
        n = rng.choice((0, 1, 1, 2, 3))
        ids = list(range(next_id, next_id + n))
        next_id += n
        if rng.random() < 0.3:
            rng.shuffle(ids)
        events = [(i, 5 if rng.random() < 0.1 else 0) for i in ids]
        records.append(CheckpointRecord(seq, icount, events, rng.randrange(256)))
        if (seq + 1) % digest_every == 0:
            records.append(SealRecord(seq, [digest() for _ in DIGESTED]))
    undelivered = rng.choice(([], [(next_id, 0)], [(next_id + 1, 5), (next_id, 0)]))  # any order, failed or not
    records.append(EndRecord(icount + 5, rng.choice((0, 1, -3)), digest(), digest(), [digest()], undelivered))
    return records


def flips_not_seen_as_damage(data: bytes, start: int) -> list[str]:
    """Flip every bit of ``data`` from ``start`` on, one at a time, and
    read it: what comes back other than an error naming a span that holds
    the flipped byte (a log taken as whole, or as merely cut short, would
    replay and stop early with exit 4 instead of being refused)."""
    wrong: list[str] = []
    for position in range(start, len(data)):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[position] ^= 1 << bit
            try:
                parsed = parse(bytes(damaged), "probe")
            except LogError as e:
                first = e.offset if e.offset is not None else -1
                last = e.end_offset if e.end_offset is not None else len(data)
                if not first <= position < last:
                    wrong.append(f"byte {position} bit {bit}: the error's span does not hold it: {e}")
            else:
                wrong.append(f"byte {position} bit {bit}: read as "
                             + (f"truncated ({parsed.truncated})" if parsed.truncated else "a whole log"))
    return wrong


@pytest.mark.parametrize("digest_every", [1, 4, 64])
def test_every_flipped_bit_of_many_small_logs_is_damage(tmp_path: Path, digest_every: int) -> None:
    """Among them, logs whose damaged end record reads as more checkpoints
    that stop exactly at the end of the data (a recording cut short would
    look just like that, but for the end record's shape at the end)."""
    wrong: list[str] = []
    for case in range(40):
        rng = random.Random(f"{digest_every}/{case}")
        path = tmp_path / f"log{case}.reel"
        write_log(str(path), header(digest_every), synthetic_records(rng, rng.randrange(1, 12), digest_every))
        wrong += [f"case {case}: {w}" for w in flips_not_seen_as_damage(path.read_bytes(),
                                                                         read(str(path)).header_bytes)]
    assert not wrong, f"{len(wrong)} flips not reported as damage:\n" + "\n".join(wrong[:10])


def test_a_log_cut_after_any_whole_record_reads_as_truncated_up_to_it(tmp_path: Path) -> None:
    """A killed recording stops after a whole record: never refused, whatever
    its bytes look like (a finished one is known by its trailer alone)."""
    refused: list[str] = []
    for case in range(30):
        rng = random.Random(f"cut/{case}")
        records = synthetic_records(rng, 24, 4)
        path = tmp_path / f"whole{case}.reel"
        write_log(str(path), header(4), records)
        whole = read(str(path))
        assert whole.records == records and not whole.truncated
        data = path.read_bytes()
        for keep in range(len(records) - 1):
            write_log(str(path), header(4), records[:keep])
            try:
                parsed = read(str(path))
            except LogError as e:
                refused.append(f"case {case}, cut after record {keep}: {e}")
                continue
            assert parsed.records == records[:keep] and parsed.truncated, (case, keep)
        # Cut inside the trailer: the end record's checksum still vouches for everything.
        for cut in range(1, len(TRAILER) + 1):
            parsed = parse(data[:-cut], "cut")
            assert parsed.records == records and not parsed.truncated, (case, cut)
    assert not refused, f"{len(refused)} cut logs refused:\n" + "\n".join(refused[:10])


def test_a_log_of_another_format_is_refused_naming_both_formats(tmp_path: Path) -> None:
    path = tmp_path / "old.reel"
    write_log(str(path), header(4), synthetic_records(random.Random(1), 3, 4))
    data = bytearray(path.read_bytes())
    data[7] = 4
    with pytest.raises(LogError, match="log format 4, this reel reads format 5"):
        parse(bytes(data), "old.reel")


def test_a_file_that_is_not_regular_is_refused_unread() -> None:
    with pytest.raises(LogError, match="^/dev/zero: not a regular file$"):
        read("/dev/zero")


@pytest.mark.parametrize("change,complaint", [
    ({"format": 4}, "header: says format 4 under the magic of format 5"),
    ({"guest_image": b"\x13\x00\x00\x01"}, "header: the guest program's sha256 is [0-9a-f]{64}, not the "),
    ({"digest_every": 0}, "header: ram_mib 1 and digest_every 0 must both be at least 1"),
    ({"ram_mib": 0}, "header: ram_mib 0 and digest_every 4 must both be at least 1"),
    ({"fingerprinted": "nobody"}, "header: digested actors .* must be distinct and include the fingerprinted 'nobody'"),
    ({"disks": [DiskIdentity("d0.img", -1, "1" * 32)]}, r"header: disk 0 \(d0.img\): size -1 and digest"),
    ({"disks": [DiskIdentity("d0.img", 1, "xyz")]}, r"header: disk 0 \(d0.img\): size 1 and digest 'xyz'"),
])
def test_a_header_whose_checksum_holds_but_whose_fields_do_not_is_refused_naming_the_field(
        tmp_path: Path, change: dict, complaint: str) -> None:
    """An edited header with its checksum recomputed: each field that would
    mislead a replay is refused by name (the control header reads)."""
    import msgspec

    path = tmp_path / "edited.reel"
    good = header(4)
    write_log(str(path), good, synthetic_records(random.Random(1), 3, 4))
    assert read(str(path)).header == good
    write_log(str(path), msgspec.structs.replace(good, **change), synthetic_records(random.Random(1), 3, 4))
    with pytest.raises(LogError, match=complaint):
        read(str(path))


def test_a_log_another_writer_holds_is_refused_and_kept(tmp_path: Path) -> None:
    """Two recordings told the same log: the second writer is refused while
    the first holds it, and the first's bytes stay as they were (opening
    with "wb" cut them before anything could be checked)."""
    import fcntl

    from actors.logger.logfile import LogWriter

    path = tmp_path / "run.reel"
    first = LogWriter(str(path), header(4))
    before = path.read_bytes()
    with pytest.raises(LogError, match="another recording is writing this log"):
        LogWriter(str(path), header(4))
    assert path.read_bytes() == before
    first.file.close()
    with open(path, "rb") as f:  # let go: a later writer may have it
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_a_log_a_recording_still_writes_is_said_to_be_so(tmp_path: Path) -> None:
    """A replay of it is refused, and inspect says so, instead of both
    calling it cut short; a log of a few bytes is cut short, not 'not a
    reel log'."""
    import fcntl

    from .conftest import run_reel

    log = tmp_path / "live.reel"
    records = [r for r in synthetic_records(random.Random(1), 3, 4) if not isinstance(r, EndRecord)]
    write_log(str(log), header(4), records)  # no end yet, as while it is written
    with open(log, "rb+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # as LogWriter holds it while recording
        assert read(str(log)).being_written
        replayed = run_reel("replay", str(log), timeout=60)
        assert replayed.returncode == 2, replayed.stderr
        assert "a recording is still writing this log; replay it once that recording has ended" in replayed.stderr
        assert "being written: a recording holds it" in run_reel("inspect", str(log)).stdout
    assert not read(str(log)).being_written
    short = tmp_path / "short.reel"
    short.write_bytes(b"REEL")
    with pytest.raises(LogError, match="cut short: 4 bytes, not even the magic"):
        read(str(short))


def _digests() -> list[str]:
    return ["ab" * 16] * len(DIGESTED)


def _end(icount: int = 100, undelivered: list[tuple[int, int]] | None = None) -> EndRecord:
    return EndRecord(icount, 0, "cd" * 16, "ef" * 16, ["01" * 16], undelivered or [])


def _sealed_run(events: list[list[tuple[int, int]]], icounts: list[int] | None = None) -> list[Record]:
    """Checkpoints with these events (digest_every 2: a seal after every second one)."""
    icounts = icounts or [10 * (seq + 1) for seq in range(len(events))]
    records: list[Record] = []
    for seq, (icount, delivered) in enumerate(zip(icounts, events)):
        records.append(CheckpointRecord(seq, icount, delivered, 0))
        if seq % 2:
            records.append(SealRecord(seq, _digests()))
    return records


@pytest.mark.parametrize("records,complaint", [
    (_sealed_run([[(0, 0), (0, 0)], [(1, 0)]]) + [_end()],
     r"record 1 \(byte offset \d+\): checkpoint 0: request 0 was delivered already"),
    (_sealed_run([[(0, 0)], [(1, 0)], [(2, 0)], [(1, 0)]]) + [_end()],
     r"checkpoint 3: request 1 was delivered already"),
    (_sealed_run([[(0, 0)], [(1, 0)]]) + [_end(undelivered=[(1, 5)])],
     r"the end's undelivered: request 1 was delivered already"),
    (_sealed_run([[(0, 0)], [(1 << 64, 0)]]) + [_end()], r"checkpoint 1: request id 18446744073709551616"),
    (_sealed_run([[(0, 0)], [(1, 0)]], [10, 1 << 69]) + [_end(1 << 69)], r"a varint longer than 10 bytes"),
    (_sealed_run([[(0, 0)], [(1, 0)]], [1 << 63, (1 << 64) + 4]) + [_end((1 << 64) + 4)],
     r"checkpoint 1: icount 18446744073709551620, past 64 bits"),
    (_sealed_run([[(0, 0)], [(1, 1 << 31)]]) + [_end()],
     r"checkpoint 1: request 1 failed with status 2147483648, which is no errno value"),
    (_sealed_run([[(0, 0)], [(1, 0)]]) + [_end(5)], r"the end at icount 5 comes before checkpoint 1's 20"),
    (_sealed_run([[(0, 0)], [(1, 0)]]) + [_end(1 << 64)], r"the end at icount 18446744073709551616, past 64 bits"),
])
def test_a_log_whose_records_decode_but_break_its_rules_is_refused_naming_the_record(
        tmp_path: Path, records: list[Record], complaint: str) -> None:
    """Written with correct checksums, so only what the records say can
    give them away; before, a replay of each crashed blkreplay or the
    logger (a request delivered twice, numbers past 64 bits or a C int)."""
    path = tmp_path / "edited.reel"
    write_log(str(path), header(2), records)
    with pytest.raises(LogError, match=complaint):
        read(str(path))


def test_the_control_a_log_within_the_rules_reads() -> None:
    records = _sealed_run([[(1, 0), (0, 5)], [(2, (1 << 31) - 1)]], [10, (1 << 64) - 1]) + [
        _end((1 << 64) - 1, [(3, 0)])]
    assert parse(_written(header(2), records)).records == records


def test_a_long_log_read_takes_tens_of_bytes_a_checkpoint() -> None:
    """A read log keeps its checkpoints in columns (logfile.Checkpoints):
    as objects, a log of a million checkpoints (ten minutes of recording)
    took 440 MB in each process that read it, the launcher and the logger."""
    import tracemalloc

    count = 100_000
    records: list[Record] = []
    for seq in range(count):
        records.append(CheckpointRecord(seq, 1000 * (seq + 1), [(seq, 0)], seq & 0xFF))
        if seq % 64 == 63:
            records.append(SealRecord(seq, _digests()))
    data = _written(header(64), records + [_end(1000 * count + 1)])
    tracemalloc.start()
    try:
        log = parse(data)
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    last = count - 1
    assert len(log.checkpoints) == count and log.checkpoints[last] == CheckpointRecord(last, 1000 * count,
                                                                                      [(last, 0)], last & 0xFF)
    assert log.records == records + [_end(1000 * count + 1)]
    assert kept < 64 * count, f"{kept / count:.0f} bytes a checkpoint"


def _written(head: LogHeader, records: list[Record]) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.reel"
        write_log(str(path), head, records)
        return path.read_bytes()


@pytest.mark.parametrize("every,drop,complaint", [
    (3, None, r"malformed record 3 \(byte offset \d+\): a seal after checkpoint 1, where digest_every 3 puts none"),
    (2, 0, r"no seal after checkpoint 1, where digest_every 2 puts one"),
    (2, 1, r"no seal after checkpoint 3, where digest_every 2 puts one"),
])
def test_seals_must_lie_where_the_header_says(every: int, drop: int | None, complaint: str) -> None:
    """Before, a header edited to another digest_every, with the seals'
    digests garbled, replayed as "matched": the cpu and blkreplay send
    their full digests where the header says, so seals elsewhere were
    never compared. A seal gone missing read as a whole log too."""
    records = _sealed_run([[(0, 0)], [(1, 0)], [(2, 0)], [(3, 0)]]) + [_end()]
    seals = [i for i, r in enumerate(records) if isinstance(r, SealRecord)]
    if drop is not None:
        del records[seals[drop]]
    with pytest.raises(LogError, match=complaint):
        parse(_written(header(every), records))


def test_a_log_cut_between_a_checkpoint_and_its_seal_reads_as_truncated() -> None:
    records = _sealed_run([[(0, 0)], [(1, 0)]])
    data = _written(header(2), records + [_end()])
    seal_bytes = 2 + 16 * len(DIGESTED) + 4
    cut = parse(data[:len(_written(header(2), records)) - seal_bytes])
    assert cut.truncated and cut.records == records[:-1]


def test_inspect_shows_control_characters_of_a_header_escaped(tmp_path: Path) -> None:
    """A guest named with a newline and an escape sequence (an edited log)
    broke inspect's lines and turned the terminal red."""
    import msgspec

    from .conftest import run_reel

    log = tmp_path / "odd.reel"
    write_log(str(log), msgspec.structs.replace(header(2), guest_name="a\nb\x1b[31mred"), [_end()])
    result = run_reel("inspect", str(log), timeout=30)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "guest a\\nb\\x1b[31mred (sha256" in result.stdout, result.stdout
