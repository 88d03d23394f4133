"""Record and replay of block I/O, end to end through ``reel record``,
``reel replay`` and ``reel inspect`` (topology ide-blkreplay: cpu -> ide ->
blkreplay -> image, with the logger).

The guest is ``journal``: interrupt-driven DMA on two disks at once, whose
console output (a digest of the order in which the completions arrived)
depends on disk timing. Recorded once under seeded random latency, every
replay must print the same console output and end in the same cpu state,
memory and disk contents whatever the latency; run without blkreplay
(``reel run``, topology ide-direct) under the same latencies it must not,
which shows that these tests can tell determinism from luck.
"""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import EXITWRITE_DATA, EXITWRITE_LBA, MANIFEST, REPO, build_exitwrite, need_host, need_tool, run_reel

GUEST = "journal"
DISKS = len(MANIFEST[GUEST]["disks"])
LATENCY = "uniform:0:2ms"
RECORD_SEED = 1
OTHER_SEEDS = list(range(2, 22))  # twenty latency seeds other than the recording's
TIMEOUT = 120  # seconds for one run: a hang fails the test instead of stalling it
EXIT_USAGE, EXIT_DIVERGED, EXIT_TRUNCATED = 2, 3, 4

# ``reel replay`` prints one line per compared item after its verdict:
#   reel:   cpu state  replay X  recording Y  same
VERDICT_LINE = re.compile(r"^reel:\s+(\S.*?)\s+replay (\S+)\s+recording (\S+)\s+(same|DIFFERENT)\s*$", re.M)
COMPARED = ["icount", "exit code", "cpu state", "memory"] + [f"disk {i}" for i in range(DISKS)]


# --- helpers ------------------------------------------------------------------------


def blank_disks(folder: Path, count: int = DISKS, size: int = 8 << 20) -> list[Path]:
    """Fresh sparse zero-filled images, as ``reel mkdisk`` makes them."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"d{i}.img"
        with open(path, "wb") as f:
            f.truncate(size)
        paths.append(path)
    return paths


def disk_args(paths: list[Path]) -> list[str]:
    return [arg for path in paths for arg in ("--disk", str(path))]


def timing(seed: int) -> list[str]:
    return ["--latency", LATENCY, "--seed", str(seed)]


def show(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}--- stderr\n{result.stderr}"


@dataclass
class Recording:
    log: Path
    disks: list[Path]
    result: subprocess.CompletedProcess[str]


def record(tmp_path: Path, *extra: str, seed: int = RECORD_SEED) -> Recording:
    disks = blank_disks(tmp_path / "base")
    log = tmp_path / "run.reel"
    result = run_reel("record", GUEST, *disk_args(disks), "--log", str(log), *timing(seed), *extra, timeout=TIMEOUT)
    return Recording(log, disks, result)


def recorded_journal(tmp_path: Path) -> Recording:
    """journal recorded under random latency; it ran to its normal end."""
    rec = record(tmp_path)
    assert rec.result.returncode == 0, show(rec.result)
    assert "journal entries 128\n" in rec.result.stdout, show(rec.result)
    assert re.search(r"^journal digest [0-9a-f]{8}$", rec.result.stdout, re.M), show(rec.result)
    return rec


def recorded_request_failure(tmp_path: Path, fault: str, channel: int) -> Recording:
    """journal recorded with ``fault``: a request on ``channel`` failed, and
    the guest reported it and exited 3."""
    rec = record(tmp_path, "--fault", fault)
    assert rec.result.returncode == 3, show(rec.result)
    assert re.search(rf"^request FAILED: channel {channel} request \d+: ", rec.result.stdout, re.M), show(rec.result)
    return rec


def replay(log: Path, *extra: str, seed: int = 2) -> subprocess.CompletedProcess[str]:
    return run_reel("replay", str(log), *timing(seed), *extra, timeout=TIMEOUT)


def verdict(stderr: str) -> dict[str, tuple[str, str, str]]:
    """What ``reel replay`` compared: item -> (replay, recording, same/DIFFERENT)."""
    return {m.group(1): (m.group(2), m.group(3), m.group(4)) for m in VERDICT_LINE.finditer(stderr)}


def inspect(log: Path) -> dict:
    result = run_reel("inspect", str(log), "--json")
    assert result.returncode == 0, show(result)
    return json.loads(result.stdout)


def end_record(log: Path) -> dict:
    ends = [r for r in inspect(log)["records"] if r.get("end")]
    assert len(ends) == 1, f"{log}: {len(ends)} end records"
    return ends[0]


def assert_matched(result: subprocess.CompletedProcess[str], rec: Recording, end: dict, what: str) -> None:
    """The replay matched the recording: exit 0, the same console output,
    and every compared item the same as the recording's end record says."""
    assert result.returncode == 0, f"{what}: {show(result)}"
    assert result.stdout == rec.result.stdout, f"{what}: console differs from the recording's\n{show(result)}"
    compared = verdict(result.stderr)
    missing = [item for item in COMPARED if item not in compared]
    assert not missing, f"{what}: the verdict does not compare {missing}\n{show(result)}"
    for item, (now, then, same) in compared.items():
        assert now == then and same == "same", f"{what}: {item} replay {now} recording {then}\n{show(result)}"
    recorded = {"icount": str(end["icount"]), "exit code": str(end["exit_code"]), "cpu state": end["state"],
                "memory": end["memory"], **{f"disk {i}": d for i, d in enumerate(end["disks"])}}
    for item in COMPARED:
        assert compared[item][1] == recorded[item], (
            f"{what}: the verdict's recording {item} {compared[item][1]} is not the log's {recorded[item]}")


def numbers_after(pattern: str, text: str) -> list[int]:
    return [int(n) for n in re.findall(pattern, text)]


def header_bytes(log: Path) -> int:
    """Where the records start: the header's end."""
    from actors.logger.logfile import read

    parsed = read(str(log))
    assert 0 < parsed.header_bytes < parsed.size, f"{log}: header {parsed.header_bytes} of {parsed.size} bytes"
    return parsed.header_bytes


# --- 1. the same run whatever the disk timing -------------------------------------------


def test_journal_replays_identically_under_twenty_latency_seeds_and_the_memory_backend(tmp_path: Path) -> None:
    rec = recorded_journal(tmp_path)
    end = end_record(rec.log)
    assert end["exit_code"] == 0
    runs = [(f"seed {seed}", [], seed) for seed in OTHER_SEEDS]
    runs.append(("memory backend, seed 2", ["--backend", "memory"], 2))
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {what: pool.submit(replay, rec.log, *extra, seed=seed) for what, extra, seed in runs}
        for what, future in futures.items():
            assert_matched(future.result(), rec, end, f"replay, {what}")
    for disk in rec.disks:  # the base images are never written
        assert Path(disk).read_bytes() == bytes(8 << 20), f"{disk} was written"


def direct_run(tmp_path: Path, seed: int) -> str:
    """journal on ide-direct (no blkreplay) on fresh blank disks: its console."""
    disks = blank_disks(tmp_path / f"direct{seed}")
    result = run_reel("run", GUEST, *disk_args(disks), *timing(seed), timeout=TIMEOUT)
    assert result.returncode == 0, f"reel run, seed {seed}: {show(result)}"
    assert "journal entries 128\n" in result.stdout, f"reel run, seed {seed}: {show(result)}"
    return result.stdout


def test_journal_without_blkreplay_differs_across_the_same_seeds(tmp_path: Path) -> None:
    """The control: the twenty seeds under which the replays agree do not
    all give the same console output without record/replay. (Stops as soon
    as two runs disagree.)"""
    seen: dict[str, list[int]] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending: dict[Future[str], int] = {pool.submit(direct_run, tmp_path, seed): seed for seed in OTHER_SEEDS}
        while pending and len(seen) < 2:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                seen.setdefault(future.result(), []).append(pending.pop(future))
        for future in pending:
            future.cancel()
    assert len(seen) > 1, f"all {len(OTHER_SEEDS)} direct runs printed the same console output:\n{next(iter(seen))}"


# --- 2. an injected I/O error --------------------------------------------------------


def test_io_error_injected_while_recording_replays_on_a_healthy_disk(tmp_path: Path) -> None:
    fault = "disk1:error:request=5"
    rec = recorded_request_failure(tmp_path, fault, channel=1)
    log = inspect(rec.log)
    assert log["summary"]["failed_events"] >= 1, log["summary"]
    assert any(status for r in log["records"] for _, status in r.get("events", [])), "no failed event in the records"
    assert any(fault in str(f) for f in log["header"]["faults"]), log["header"]["faults"]
    end = end_record(rec.log)
    assert end["exit_code"] == 3
    # no fault now: the disk serves request 5 fine, yet the guest sees the recorded error
    for extra in ([], ["--backend", "memory"]):
        result = replay(rec.log, *extra)
        assert_matched(result, rec, end, f"replay {' '.join(extra) or '(raw)'}")
        assert verdict(result.stderr)["exit code"] == ("3", "3", "same")


# --- 4. damaged, truncated and edited logs ---------------------------------------------


def test_a_flipped_byte_is_refused_naming_the_record_and_offset(tmp_path: Path) -> None:
    rec = recorded_journal(tmp_path)
    data = bytearray(rec.log.read_bytes())
    start = header_bytes(rec.log)
    # A byte in the middle of a digest that the records carry (a seal's, or
    # the end's): 16 bytes found exactly once, after the header.
    listed = inspect(rec.log)["records"]
    digests = [d for r in listed if "digests_at" in r for d in r["digests"].values()] + [end_record(rec.log)["state"]]
    where = [data.find(bytes.fromhex(d), start) for d in digests]
    flipped = next(at for at in where if at > 0) + 8
    assert flipped < len(data)
    data[flipped] ^= 0x10
    damaged = tmp_path / "damaged.reel"
    damaged.write_bytes(data)
    for what, result in (("replay", replay(damaged)), ("inspect", run_reel("inspect", str(damaged)))):
        assert result.returncode == EXIT_USAGE, f"{what} of a log with byte {flipped} flipped: {show(result)}"
        message = result.stderr
        assert str(damaged) in message, message
        numbers = [int(n) for pair in re.findall(r"records? (\d+)(?: to (\d+))?", message) for n in pair if n]
        offsets = [int(n) for pair in re.findall(r"byte offsets? (\d+)(?: to (\d+))?", message) for n in pair if n]
        assert numbers and offsets, f"{what}: no record number or byte offset in: {message}"
        if len(offsets) >= 2:  # a span: "records A to B (byte offsets X to Y)"
            assert offsets[0] <= flipped < offsets[1], f"{what}: byte {flipped} is not in the span: {message}"
            assert len(numbers) < 2 or numbers[0] <= numbers[1], message  # "records A to B" or "A to the end"
        else:  # one record: "record A (byte offset X)", which starts at or before the flipped byte
            assert offsets[0] <= flipped, f"{what}: byte {flipped} is before the record named: {message}"
        assert re.search(r"checksum|malformed|damaged", message), message


def test_any_flipped_bit_in_the_records_is_damage_not_truncation(tmp_path: Path) -> None:
    """Every single flipped bit after the header of a real recording is
    reported as damage in a span that holds it."""
    from .test_logfile import flips_not_seen_as_damage

    rec = recorded_journal(tmp_path)
    data = rec.log.read_bytes()
    wrong = flips_not_seen_as_damage(data, header_bytes(rec.log))
    assert not wrong, f"{len(wrong)} bit flips not reported as damage:\n" + "\n".join(wrong[:20])


def test_a_truncated_log_replays_to_its_last_whole_checkpoint(tmp_path: Path) -> None:
    from actors.logger.logfile import read

    rec = recorded_journal(tmp_path)
    data = rec.log.read_bytes()
    start = header_bytes(rec.log)
    cut = tmp_path / "cut.reel"
    cut.write_bytes(data[:start + (len(data) - start) // 2])
    whole = read(str(cut)).checkpoints
    assert 0 < len(whole) < len(read(str(rec.log)).checkpoints)
    result = replay(cut)
    assert result.returncode == EXIT_TRUNCATED, show(result)
    assert re.search(r"truncated|cut short|log ends|ends there", result.stderr), show(result)
    assert len(whole) in numbers_after(r"(\d+) checkpoints", result.stderr), (
        f"the log holds {len(whole)} whole checkpoints\n{show(result)}")
    assert rec.result.stdout.startswith(result.stdout), show(result)


def test_swapped_completions_are_a_divergence_at_that_checkpoint(tmp_path: Path) -> None:
    from actors.logger.logfile import CheckpointRecord, read, write_log

    # Every actor's full digest at every checkpoint: the report must name
    # the checkpoint itself (with the default, one fingerprint byte, a
    # divergence shows one checkpoint late once in 256). The reorder fault
    # hands blkreplay the two disks' completions in pairs whenever both are
    # in flight, so checkpoints with two events do not hang on timing.
    rec = record(tmp_path, "--digest-every", "1", "--fault", "disks:reorder:window=2")
    assert rec.result.returncode == 0, show(rec.result)
    log = read(str(rec.log))
    records = log.records  # (a new list each time)
    both = [r for r in records if isinstance(r, CheckpointRecord) and len(r.events) >= 2]
    assert both, "no checkpoint delivered two completions at once: nothing to swap"
    target = both[0]
    target.events[0], target.events[1] = target.events[1], target.events[0]
    edited = tmp_path / "swapped.reel"
    write_log(str(edited), log.header, records)
    assert read(str(edited)).checkpoints[target.seq].events[:2] == target.events[:2]
    result = replay(edited)  # times out (and fails) rather than hang
    assert result.returncode == EXIT_DIVERGED, show(result)
    assert f"divergence at checkpoint {target.seq} " in result.stderr, (
        f"swapped checkpoint {target.seq}'s events {target.events}\n{show(result)}")


def test_a_divergence_only_the_cpu_sees_is_a_divergence_too(tmp_path: Path) -> None:
    """The guest exits where the recording's did not (its end moved 1000
    instructions earlier): exit 3 with the cpu's words, as for any
    divergence; it was exit 70, 'actor failed', as if reel itself had."""
    import dataclasses

    from actors.logger.logfile import EndRecord, read, write_log

    rec = recorded_journal(tmp_path)
    log = read(str(rec.log))
    records = [dataclasses.replace(r, icount=r.icount - 1000) if isinstance(r, EndRecord) else r
               for r in log.records]
    edited = tmp_path / "early.reel"
    write_log(str(edited), log.header, records)
    result = replay(edited)
    assert result.returncode == EXIT_DIVERGED, show(result)
    assert "replay diverged: cpu: journal: the recording's guest exited at icount" in result.stderr, show(result)


# --- 3. overlapping requests in flight ---------------------------------------------------


def test_overlapping_write_and_read_in_flight_replay_identically(tmp_path: Path) -> None:
    """``overlap`` abandons a WRITE DMA and reads the same sectors while the
    write is still on its way to the disk. blkreplay issues overlapping
    requests in submission order, so the recording reads the new data every
    round and every replay reads the same; straight to the disk (ide-direct)
    the read sometimes overtakes the write, which shows the overlap is real."""
    base = blank_disks(tmp_path / "base", 1)
    log = tmp_path / "overlap.reel"
    recorded = run_reel("record", "overlap", *disk_args(base), "--log", str(log), *timing(RECORD_SEED),
                        timeout=TIMEOUT)
    assert recorded.returncode == 0, show(recorded)
    assert recorded.stdout.startswith("overlap " + "n" * 32 + "\n"), show(recorded)
    for seed in (2, 3):
        replayed = run_reel("replay", str(log), *timing(seed), timeout=TIMEOUT)
        assert replayed.returncode == 0, show(replayed)
        assert replayed.stdout == recorded.stdout, show(replayed)
    overtaken = False
    for seed in range(1, 11):
        disk = blank_disks(tmp_path / f"direct{seed}", 1)
        direct = run_reel("run", "overlap", *disk_args(disk), *timing(seed), timeout=TIMEOUT)
        assert direct.returncode == 0, show(direct)
        if "o" in direct.stdout.splitlines()[0].removeprefix("overlap "):
            overtaken = True
            break
    assert overtaken, "in ten direct runs no read overtook its write: the guest does not overlap them"


def exit_write_expected(base: Path, folder: Path) -> str:
    """The digest of ``base`` with exitwrite's write on it."""
    from actors.image.backends import file_digest

    expected = folder / "expected.img"
    expected.write_bytes(base.read_bytes())
    with open(expected, "r+b") as f:
        f.seek(EXITWRITE_LBA * 512)
        f.write(EXITWRITE_DATA)
    return file_digest(str(expected))[1]


def test_a_write_in_flight_when_the_guest_exits_lands_before_the_disks_are_digested(tmp_path: Path) -> None:
    """``exitwrite`` starts a 64 KiB DMA write and exits at once. The write
    was issued, so the recording's final disk holds it, and so does every
    replay's, whether the disk answers later than the exit (fixed latency)
    or at once: the disks are drained before they are digested (Drain).
    Before, the digest raced the write, and a replay under other timing
    reported a different disk."""
    elf = build_exitwrite(tmp_path)
    base = blank_disks(tmp_path / "base", 1, size=1 << 20)
    log = tmp_path / "ew.reel"
    recorded = run_reel("record", str(elf), *disk_args(base), "--log", str(log), "--latency", "fixed:50ms",
                        timeout=TIMEOUT)
    assert recorded.returncode == 0 and recorded.stdout == "write started\n", show(recorded)
    assert end_record(log)["disks"] == [exit_write_expected(base[0], tmp_path)]
    for latency in ("none", "fixed:100ms"):
        replayed = run_reel("replay", str(log), "--latency", latency, timeout=TIMEOUT)
        assert replayed.returncode == 0, f"latency {latency}: {show(replayed)}"
        assert verdict(replayed.stderr)["disk 0"][2] == "same", f"latency {latency}: {show(replayed)}"


def test_a_write_that_failed_after_the_guest_exited_fails_again_in_replay(tmp_path: Path) -> None:
    """exitwrite's write fails when recording (an injected fault), after
    the guest's exit: no checkpoint delivered it, so the log's end keeps
    its status (undelivered), and a replay, on a healthy disk, fails it
    again without the disk rather than writing what the recording did not.
    Before, every replay ended with disk 0 DIFFERENT."""
    elf = build_exitwrite(tmp_path)
    base = blank_disks(tmp_path / "base", 1, size=1 << 20)
    log = tmp_path / "ew.reel"
    recorded = run_reel("record", str(elf), *disk_args(base), "--log", str(log), "--latency", "fixed:50ms",
                        "--fault", "disk0:error:lba=16-20", timeout=TIMEOUT)
    assert recorded.returncode == 0 and recorded.stdout == "write started\n", show(recorded)
    end = end_record(log)
    assert end["undelivered"] == [[0, 5]], end  # request 0 failed with EIO
    assert run_reel("inspect", str(log)).stdout.rstrip().endswith(", undelivered 0!5")
    from actors.image.backends import file_digest

    assert end["disks"] == [file_digest(str(base[0]))[1]]  # the disk as it was
    for latency in ("none", "fixed:100ms"):
        replayed = run_reel("replay", str(log), "--latency", latency, timeout=TIMEOUT)
        assert replayed.returncode == 0, f"latency {latency}: {show(replayed)}"
        assert verdict(replayed.stderr)["disk 0"][2] == "same", f"latency {latency}: {show(replayed)}"


# --- 5. the wrong base image -----------------------------------------------------------


def test_a_base_image_that_differs_from_the_header_is_refused(tmp_path: Path) -> None:
    from actors.image.backends import file_digest

    rec = recorded_journal(tmp_path)
    recorded = inspect(rec.log)["header"]["disks"]
    other = blank_disks(tmp_path / "other", 1)[0]
    with open(other, "r+b") as f:
        f.seek(4096 * 512)
        f.write(b"not the base")
    size, digest = file_digest(str(other))
    assert digest != recorded[1]["digest"]
    # given on the command line
    result = replay(rec.log, "--disk", str(rec.disks[0]), "--disk", str(other))
    assert result.returncode == EXIT_USAGE, show(result)
    for needed in (str(other), digest, recorded[1]["digest"]):
        assert needed in result.stderr, f"{needed} not named\n{show(result)}"
    assert result.stdout == "", show(result)
    # the file the log names, changed since
    with open(rec.disks[0], "r+b") as f:
        f.seek(100 * 512)
        f.write(b"\x01")
    size, digest = file_digest(str(rec.disks[0]))
    result = replay(rec.log)
    assert result.returncode == EXIT_USAGE, show(result)
    for needed in (str(rec.disks[0]), digest, recorded[0]["digest"]):
        assert needed in result.stderr, f"{needed} not named\n{show(result)}"
    assert os.path.getsize(rec.disks[0]) == size
    # one of another size is refused on its size, before any copy of it is made
    with open(rec.disks[0], "r+b") as f:
        f.truncate(size + 512)
    result = replay(rec.log)
    assert result.returncode == EXIT_USAGE, show(result)
    assert f"disk 0: {rec.disks[0]} (size {size + 512}) is not the base the recording started from" in \
        result.stderr, show(result)


# --- 6. a guest woken by the ide alone, and one nothing can wake ----------------------


def test_a_command_that_fails_at_once_wakes_a_recording_guest_and_replays(tmp_path: Path) -> None:
    """journal on disks too small for it: its first DMA fails in the ide
    itself (IDNF), with no disk request, while the guest idles in wfi.
    The idle checkpoint settles empty at once and the interrupt wakes the
    guest (a recording used to wait for a completion that could not come)."""
    disks = blank_disks(tmp_path / "base", size=1 << 20)
    log = tmp_path / "run.reel"
    recorded = run_reel("record", GUEST, *disk_args(disks), "--log", str(log), *timing(RECORD_SEED), timeout=TIMEOUT)
    assert recorded.returncode == 3 and "request FAILED: channel 0 request 0: device error" in recorded.stdout, \
        show(recorded)
    replayed = replay(log)
    assert replayed.returncode == 0 and replayed.stdout == recorded.stdout, show(replayed)
    assert "replay matched the recording" in replayed.stderr


def test_a_guest_that_nothing_can_wake_is_stopped_saying_so(tmp_path: Path) -> None:
    from .conftest import build_guest

    source = tmp_path / "sleeper.S"
    source.write_text("""
    .globl main
main:
    li t0, 0x800          # mie.MEIE: only an external interrupt may wake it
    csrw mie, t0
    csrsi mstatus, 8
1:  wfi
    j 1b
""")
    elf = build_guest([source], tmp_path / "sleeper.elf")
    disks = blank_disks(tmp_path / "base", count=1)
    result = run_reel("record", str(elf), *disk_args(disks), "--log", str(tmp_path / "run.reel"), timeout=30)
    assert result.returncode == 70, show(result)
    assert "with no disk request in flight: nothing can wake it (mie 0x800)" in result.stderr, show(result)
    # Directly too, once a while of waiting in vain has passed and the ide
    # says nothing is in flight (or there is no ide): before, it waited for good.
    for disk in (disk_args(disks), []):
        result = run_reel("run", str(elf), *disk, timeout=30)
        assert result.returncode == 70, show(result)
        assert "with no disk request in flight: nothing can wake it (mie 0x800)" in result.stderr, show(result)


def test_a_log_that_cannot_grow_stops_the_recording_naming_it_and_replays_truncated(tmp_path: Path) -> None:
    import resource

    from .conftest import REPO, _env, reel_command

    base = blank_disks(tmp_path / "base", count=1)
    log = tmp_path / "run.reel"
    recorded = subprocess.run(  # files may not grow past 18 KiB: the log fills up part way
        reel_command("record", "diskqd1", *disk_args(base), "--backend", "memory", "--log", str(log)),
        capture_output=True, text=True, timeout=TIMEOUT, cwd=REPO, env=_env(), check=False,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (18 << 10, 18 << 10)))
    assert recorded.returncode == 74, show(recorded)  # reel's output could not be written (70 before: an actor failed)
    held = re.search(rf"log {re.escape(str(log))}: cannot write \(File too large\); it holds checkpoints 0 to (\d+) ",
                     recorded.stderr)
    assert held is not None, show(recorded)
    assert "Traceback" not in recorded.stderr
    replayed = replay(log, "--backend", "memory")
    assert replayed.returncode == EXIT_TRUNCATED and "all matching, to the last whole one" in replayed.stderr, \
        show(replayed)
    assert f"replayed {int(held[1]) + 1} checkpoints" in replayed.stderr, show(replayed)  # what the message said


def test_an_interrupt_the_ide_raises_on_its_own_is_taken_at_a_recorded_checkpoint(tmp_path: Path) -> None:
    """IDENTIFY's interrupt comes from the ide alone, while the guest runs
    code that touches no device: when it arrived at the cpu is the host's
    timing. Recorded, it reaches the guest at a checkpoint (one with no
    completion), and every replay takes it at the same icount."""
    from .conftest import REPO, build_guest

    elf = build_guest([REPO / "tests" / "guests" / "irqrace.c", REPO / "guests" / "ata.c"], tmp_path / "irqrace.elf")
    disks = blank_disks(tmp_path / "base", count=1, size=1 << 20)
    log = tmp_path / "run.reel"
    recorded = run_reel("record", str(elf), *disk_args(disks), "--log", str(log), timeout=TIMEOUT)
    assert recorded.returncode == 0 and recorded.stdout.count("interrupt after ") == 3, show(recorded)
    empty = [r for r in inspect(log)["records"] if "icount" in r and not r.get("events") and not r.get("end")]
    assert len(empty) >= 3, inspect(log)["records"]  # one (at least) per IDENTIFY
    for seed in (2, 3):
        replayed = replay(log, seed=seed)
        assert replayed.returncode == 0 and replayed.stdout == recorded.stdout, show(replayed)


def test_a_recording_stopped_by_sigterm_mid_checkpoint_ends_quietly_and_replays_truncated(tmp_path: Path) -> None:
    """SIGTERM while recording diskqd1 (a checkpoint per read, so the stop
    cuts one short nearly always): exit 143, no actor complains of the
    reply it no longer waits for, and the log replays to its last whole
    checkpoint."""
    import signal
    import time

    from .conftest import REPO, _env, reel_command

    base = blank_disks(tmp_path / "base", count=1)
    log = tmp_path / "run.reel"
    proc = subprocess.Popen(reel_command("record", "diskqd1", *disk_args(base), "--log", str(log)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=_env())
    deadline = time.monotonic() + TIMEOUT
    while not (log.exists() and log.stat().st_size > 8 << 10):  # well into the reads
        assert proc.poll() is None and time.monotonic() < deadline, "the recording ended before it was stopped"
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "interrupted by SIGTERM" in err
    assert "no handler" not in err and "Traceback" not in err, err
    replayed = replay(log)
    assert replayed.returncode == EXIT_TRUNCATED and "all matching, to the last whole one" in replayed.stderr, \
        show(replayed)


def test_a_log_of_another_topology_or_digest_layout_is_refused_before_anything_runs(tmp_path: Path) -> None:
    """Also a log for a machine this reel cannot build (its error named the
    replay's own topology, not the log)."""
    import hashlib
    import random

    import msgspec

    from actors.logger.logfile import write_log
    from actors.schema import DIGESTS_ID

    from .test_logfile import header, synthetic_records

    records = synthetic_records(random.Random(1), 3, 4)
    hello = (REPO / "launch" / "guests" / "hello.elf").read_bytes()
    real = msgspec.structs.replace(header(4), guest_name="hello", guest_image=hello,
                                   guest_sha256=hashlib.sha256(hello).hexdigest(), schema=DIGESTS_ID)
    for change, complaint in (
            ({}, "d0.img"),  # the control: it gets as far as its disk
            ({"topology": "ide-direct"}, "recorded on topology 'ide-direct'; this reel replays 'ide-blkreplay'"),
            ({"schema": "0123abcd.1", "reel_version": "0.9"},
             f"recorded by reel 0.9, messages, framing and machine 0123abcd.1; this reel's differ ({DIGESTS_ID})"),
            # the same messages and frames, an older machine (before the bus master's start took a 0 -> 1 change)
            ({"schema": DIGESTS_ID.rpartition(".")[0]}, "messages, framing and machine"),
            ({"schema": ""}, "recorded by reel test, messages, framing and machine not named; this reel's differ"),
            ({"digested": ["ide", "cpu", "blkreplay"]},
             "its seals carry the digests of ide, cpu, blkreplay (fingerprint ide); this reel compares "
             "cpu, ide, blkreplay (fingerprint ide)"),
            ({"ram_mib": 5000}, "edited.reel: header: ram_mib 5000, more than a machine has (at most 2048)"),
            ({"guest_image": b"\x7fELF" + bytes(60), "guest_sha256": hashlib.sha256(b"\x7fELF" + bytes(60)).hexdigest()},
             "edited.reel: header: its guest program cannot run: ")):
        log = tmp_path / "edited.reel"
        write_log(str(log), msgspec.structs.replace(real, **change), records)
        result = run_reel("replay", str(log), timeout=TIMEOUT)
        assert result.returncode == EXIT_USAGE and complaint in result.stderr, show(result)


def test_a_read_only_base_is_recorded_and_replayed(tmp_path: Path) -> None:
    """A run writes copies of its bases, never the bases: they need only be
    readable (an immutable golden image was refused, 'not readable and
    writable'). Root may write any file by its mode, so the base is made
    immutable; where the file system cannot, the check itself is tested."""
    bases = blank_disks(tmp_path / "base")
    chattr = need_tool("chattr")
    need_host(subprocess.run([chattr, "+i", str(bases[0])], capture_output=True, check=False).returncode == 0,
              "immutable files (chattr +i) where pytest keeps its temporary files; the unit test below checks "
              "the rule itself")
    try:
        log = tmp_path / "run.reel"
        recorded = run_reel("record", GUEST, *disk_args(bases), "--log", str(log), *timing(RECORD_SEED),
                            timeout=TIMEOUT)
        assert recorded.returncode == 0, show(recorded)
        result = replay(log)
        assert result.returncode == 0, show(result)
        result = run_reel("run", "journal", *disk_args(bases), timeout=TIMEOUT)  # a run writes it
        assert result.returncode == 2, show(result)
        assert f"disk {bases[0]}: cannot be opened for writing: Operation not permitted" in result.stderr
    finally:
        subprocess.run(["chattr", "-i", str(bases[0])], check=False)


def test_a_base_need_only_be_readable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from launch import disks

    image = tmp_path / "ro.img"
    image.write_bytes(bytes(4096))
    real = os.open

    def immutable(path: str, flags: int, *args: int) -> int:  # as chattr +i makes it, for root too
        if flags & (os.O_WRONLY | os.O_RDWR):
            raise OSError(errno.EPERM, "Operation not permitted")
        return real(path, flags, *args)

    monkeypatch.setattr(disks.os, "open", immutable)
    assert disks.parse(str(image), writable=False).size == 4096
    with pytest.raises(disks.DiskError, match=r"cannot be opened for writing: Operation not permitted \(record and "
                                              r"replay only read their bases: they write copies\)"):
        disks.parse(str(image))


def test_a_base_another_run_is_writing_is_refused_while_it_does(tmp_path: Path) -> None:
    """Its identity and copy would be a moment of a moving disk, which no
    replay could find again: refused while the writer holds its lock."""
    from actors.image import RawFile

    base = blank_disks(tmp_path / "base", count=1)[0]
    log = tmp_path / "run.reel"
    writer = RawFile(str(base))  # as a run's disk actor holds a disk it writes
    try:
        result = run_reel("record", "diskqd1", "--disk", str(base), "--log", str(log), timeout=TIMEOUT)
        assert result.returncode == EXIT_USAGE, show(result)
        assert f"{base}: being written by another run" in result.stderr, show(result)
        assert not log.exists()
    finally:
        writer.close()
    result = run_reel("record", "diskqd1", "--disk", str(base), "--log", str(log), timeout=TIMEOUT)
    assert result.returncode == 0, show(result)


def test_a_memory_disk_loads_the_content_its_log_names(tmp_path: Path) -> None:
    """Memory disks load their bases as the run starts, after the bases
    were read for their identities: a run that wrote a base in between (a
    helper's race) made a recording on contents its log does not name, and
    its replay diverged on its own base. The bases stay locked against
    writers for the whole run, and a disk actor refuses a base whose content
    is not the identity's."""
    import contextlib

    import xxhash

    from actors.image import Memory, RawFile
    from actors.image.actor import _check_base
    from launch import disks, recording

    base = tmp_path / "base.img"
    first = bytes(range(256)) * 2048
    base.write_bytes(first)
    with contextlib.ExitStack() as held:
        worked_on, identities = recording._prepared([disks.parse(str(base), writable=False)], str(tmp_path), "memory",
                                                    held)
        assert worked_on[0].path == str(base)
        with pytest.raises(ValueError, match="in use by another run"):
            RawFile(str(base))  # as another run's disk actor would open it to write
    RawFile(str(base)).close()  # the run is over: free again
    _check_base(str(base), Memory.loaded(str(base))[1], identities[0].digest)  # what a memory disk loads
    with pytest.raises(ValueError, match=f"base {base} changed after its identity was read"):
        _check_base(str(base), xxhash.xxh3_128_hexdigest(bytes(len(first))), identities[0].digest)


def test_a_disk_races_an_armed_timer_and_either_outcome_replays(tmp_path: Path) -> None:
    """A hart idle in wfi with its timer armed and a disk request in flight
    waits for the disk as long as the timer's ticks stand for in wall time
    (at most 1 s) before time jumps to the timer's deadline; whichever came
    first is recorded, and replays. Before, time jumped at once: no disk
    ever beat an armed timer, however far off."""
    from .conftest import REPO, build_guest

    elf = build_guest([REPO / "tests" / "guests" / "watchdog.c", REPO / "guests" / "ata.c"], tmp_path / "wd.elf")
    [disk] = blank_disks(tmp_path, 1)
    direct = run_reel("run", str(elf), "--disk", str(disk))
    assert direct.returncode == 0 and direct.stdout.startswith("disk completed first\n"), show(direct)
    for latency, code, line in (("none", 0, "disk completed first"), ("fixed:2s", 1, "watchdog fired first")):
        log = tmp_path / f"{code}.reel"
        recorded = run_reel("record", str(elf), "--disk", str(disk), "--log", str(log), "--latency", latency)
        assert recorded.returncode == code and recorded.stdout.startswith(line), show(recorded)
        replayed = run_reel("replay", str(log))
        assert replayed.returncode == 0 and replayed.stdout == recorded.stdout, show(replayed)
        assert "replay matched the recording" in replayed.stderr, show(replayed)


def test_force_replaces_only_a_log_that_is_a_file_no_run_holds(tmp_path: Path) -> None:
    """--force on the log replaces what mkdisk --force would: a regular
    file no run holds. A disk image a run is using (image actors lock
    theirs; a recording locks its log) and a FIFO are refused, untouched."""
    import fcntl

    [disk] = blank_disks(tmp_path, 1)
    held = tmp_path / "held.img"
    held.write_bytes(b"an image in use")
    with open(held, "rb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_SH)  # as a running image actor holds its disk
        result = run_reel("record", "hello", "--disk", str(disk), "--log", str(held), "--force")
    assert result.returncode == 2 and "in use by a run" in result.stderr, show(result)
    assert held.read_bytes() == b"an image in use"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result = run_reel("record", "hello", "--disk", str(disk), "--log", str(fifo), "--force")
    assert result.returncode == 2 and "not a regular file" in result.stderr, show(result)
    log = tmp_path / "new.reel"
    assert run_reel("record", "hello", "--disk", str(disk), "--log", str(log)).returncode == 0
    assert run_reel("record", "hello", "--disk", str(disk), "--log", str(log), "--force").returncode == 0


def test_a_log_another_recording_has_claimed_is_refused_while_still_empty(tmp_path: Path) -> None:
    """A new log is claimed as an empty file, which stays empty until the
    recording's logger writes its header, seconds later: a second
    recording told the same path is refused meanwhile, or it would go on
    to truncate the first one's log. (Taking an empty file without --force,
    as a killed recording's leftover, allowed that; it was undone.)"""
    from launch.recording import _log_target

    log = tmp_path / "r.reel"
    assert _log_target(str(log), False, []) == str(log) and log.stat().st_size == 0
    with pytest.raises(FileExistsError, match="already exists"):
        _log_target(str(log), False, [])


def test_a_request_the_recording_never_made_is_a_divergence_at_once(tmp_path: Path) -> None:
    """A log edited to hold no checkpoint (checksums made anew): the guest's
    first request is one the recording never made. No checkpoint comes to
    show it, and the replay waited, the ide warning every 15 s, until the
    guest passed the recording's exit: 105 s for disktest. (disktest polls
    for its first request's end, so only blkreplay can tell; journal waits
    in wfi, which the cpu reports as a divergence too, and either may come
    first.)"""
    from actors.logger.logfile import read, write_log

    recorded = tmp_path / "disktest.reel"
    result = run_reel("record", "disktest", *disk_args(blank_disks(tmp_path, 2)), "--log", str(recorded),
                      timeout=TIMEOUT)
    assert result.returncode == 0, show(result)
    log = read(str(recorded))
    edited = tmp_path / "no-checkpoints.reel"
    write_log(str(edited), log.header, [log.end])
    began = time.monotonic()
    result = replay(edited)
    assert result.returncode == EXIT_DIVERGED, show(result)
    made = max([i for c in log.checkpoints for i, _ in c.events] + [i for i, _ in log.end.undelivered])
    assert ("replay diverged: blkreplay: the guest made request 0, which the log neither delivers nor leaves "
            "undelivered (it holds no request)") in result.stderr, show(result)
    assert made > 0 and time.monotonic() - began < 30, show(result)


def test_a_base_that_has_moved_is_asked_for_by_its_new_place(tmp_path: Path) -> None:
    [disk] = blank_disks(tmp_path, 1)
    log = tmp_path / "r.reel"
    assert run_reel("record", "hello", "--disk", str(disk), "--log", str(log)).returncode == 0
    moved = disk.rename(tmp_path / "moved.img")
    result = run_reel("replay", str(log))
    assert result.returncode == 2 and f"{disk}, the base the recording started from, is not there" in result.stderr
    assert "give each base in drive order with --disk" in result.stderr, show(result)
    assert run_reel("replay", str(log), "--disk", str(moved)).returncode == 0


def test_a_recorded_dma_read_costs_one_frame_from_the_cpu_and_one_from_the_ide(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A guest that starts a DMA read and waits for it checkpoints a few
    instructions later: the bus-master start goes in that checkpoint's
    frame, and the ide hands blkreplay the request and the checkpoint in
    one frame (actors.cpu.clocks.PUSH_WITHIN); the logger gets one frame
    per checkpoint, from the ide. Counted in the frame trace of a recording
    of diskqd1's 2000 reads (before: two frames each, and two to the logger)."""
    monkeypatch.setenv("REEL_TRACE_DIR", str(tmp_path / "trace"))
    log = tmp_path / "run.reel"
    recorded = run_reel("record", "diskqd1", *disk_args(blank_disks(tmp_path / "base", 1)), "--log", str(log),
                        timeout=TIMEOUT)
    assert recorded.returncode == 0, show(recorded)
    traced = run_reel("trace", str(tmp_path / "trace"), "--json")
    assert traced.returncode == 0, show(traced)
    links = json.loads(traced.stdout)["links"]
    reads = 2000
    for link in ("cpu -> ide", "ide -> blkreplay", "ide -> logger"):
        assert links[link]["frames"] <= reads * 1.02, f"{link}: {links[link]}"
    assert links.get("blkreplay -> logger", {"frames": 0})["frames"] <= reads // 50, links.get("blkreplay -> logger")
    replayed = replay(log)
    assert replayed.returncode == 0, show(replayed)


def test_news_the_ide_sends_on_its_own_moves_no_digest(tmp_path: Path) -> None:
    """tests/guests/evrace.c: commands the ide refuses at once, between
    polls; nothing the guest does depends on timing. The ide's
    EventsPending reached the cpu at the host's moment, on the digested
    cpu-ide link: the recording took it before the checkpoint it led to,
    a replay (which runs to the recorded icount) often after, and every
    replay of this guest diverged at the first seal. A seal every 4
    checkpoints compares the cpu's full digest 25 times."""
    from .conftest import REPO, build_guest

    elf = build_guest([REPO / "tests" / "guests" / "evrace.c"], tmp_path / "evrace.elf")
    disks = blank_disks(tmp_path / "base", count=2, size=1 << 20)
    log = tmp_path / "run.reel"
    recorded = run_reel("record", str(elf), *disk_args(disks), "--log", str(log), *timing(RECORD_SEED),
                        "--digest-every", "4", timeout=TIMEOUT)
    assert recorded.returncode == 0 and recorded.stdout.startswith("evrace "), show(recorded)
    assert inspect(log)["summary"]["checkpoints"] >= 100, inspect(log)["summary"]  # one (at least) per refusal
    for seed in (2, 3, 4):
        replayed = replay(log, seed=seed)
        assert replayed.returncode == 0 and replayed.stdout == recorded.stdout, show(replayed)


def test_a_wfi_that_the_timer_or_a_disk_may_end_replays_on_the_recorded_side_of_the_time_jump(tmp_path: Path) -> None:
    """tests/guests/wfirace.c: 200 rounds of a read in flight and the timer
    armed for about as long, then wfi; the disk's latency straddles the
    checkpoint's patience, so the timer wins some rounds and the disk the
    others. A completion that came just after the patience ran out was
    checkpointed after the hart's time jumped, at the same icount, and
    replayed before it: two recordings in three ended with another mtime
    in the replay (tests/test_clocks_unit.py pins the cause)."""
    from .conftest import REPO, build_guest

    elf = build_guest([REPO / "tests" / "guests" / "wfirace.c"], tmp_path / "wfirace.elf")
    disks = blank_disks(tmp_path / "base", count=1, size=1 << 20)
    for seed in (1, 2):
        log = tmp_path / f"run{seed}.reel"
        recorded = run_reel("record", str(elf), *disk_args(disks), "--log", str(log), "--latency", "uniform:0:40ms",
                            "--seed", str(seed), "--digest-every", "1", timeout=TIMEOUT)
        assert recorded.returncode == 0, show(recorded)
        ticks = int(re.search(r"^wfirace ticks (\d+) hash", recorded.stdout, re.M)[1])
        assert 0 < ticks < 200, recorded.stdout  # both the timer and the disk won rounds
        replayed = replay(log, "--latency", "none")
        assert replayed.returncode == 0 and replayed.stdout == recorded.stdout, show(replayed)
