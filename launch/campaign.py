"""``reel faults``: a fault-injection campaign with outcomes checked.

A campaign runs a matrix of fault kinds x seeds. One cell is one run: the
bundled guest ``journal`` recorded on two blank disks under seeded random
latency with one injected fault, then the recording replayed (with a
healthy machine, another latency seed). Each kind declares once what must
happen, and the campaign checks exactly that:

* ``completes``: the recording ends normally (exit 0) and the replay
  matches it (exit 0, the same console);
* ``guest error``: the guest sees the disk's error and reports it (journal
  exits 3 and prints the failed request); the replay matches;
* ``stops``: the run stops (exit 70) naming the actor and the injected
  fault, and the log it left replays to its last whole checkpoint (exit 4).

Every run is its own ``reel`` process tree, tagged through its
environment, so that any process left behind afterwards is found and
counted (and killed) as an orphan.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, TextIO

from . import _scratch

GUEST = "journal"
DISK_BYTES = 8 << 20
LATENCY = "uniform:0:2ms"
RUN_TIMEOUT = 120.0  # seconds for one reel process: beyond it the run counts as hung
TAG = "REEL_CAMPAIGN_TAG"

LEFTOVER_GRACE = 5.0
"""Seconds a run's output may stay open after its reel has ended."""

Outcome = Literal["completes", "guest error", "stops"]


@dataclass(frozen=True)
class FaultKind:
    """A row of the table: how a seed becomes a fault spec, and what the
    recording and its replay must do."""

    name: str
    spec: Callable[[int], str]
    outcome: Outcome
    names: str = ""  # stops: the actor the report must name


def _pick(seed: int, choices: tuple[str, ...]) -> str:
    return choices[seed % len(choices)]


KINDS: tuple[FaultKind, ...] = (
    FaultKind("delay", lambda s: f"link:ide->blkreplay:delay:uniform:0:{1 + s % 2}ms", "completes"),
    FaultKind("reorder", lambda s: f"disks:reorder:window={2 + s % 4}", "completes"),
    FaultKind("duplicate", lambda s: f"link:{_pick(s, ('ide->cpu', 'cpu->ide', 'ide->blkreplay'))}:duplicate:"
                                     f"every={3 + s % 7}", "completes"),
    FaultKind("garbage", lambda s: f"actor:{_pick(s, ('ide', 'blkreplay', 'cpu'))}:garbage:count={5 + s % 20}",
              "completes"),
    FaultKind("slow disk", lambda s: f"disk{s % 2}:slow:exp:{1 + s % 3}ms", "completes"),
    FaultKind("disk error", lambda s: f"disk{s % 2}:error:request={1 + s % 60}", "guest error"),
    FaultKind("disk full", lambda s: f"disk{s % 2}:full:bytes={512 + 64 * (s % 8)}K", "guest error"),
    FaultKind("crash", lambda s: f"actor:{_pick(s, ('ide', 'blkreplay', 'cpu'))}:crash:checkpoint={1 + s % 100}",
              "stops"),
    FaultKind("hang", lambda s: f"actor:{_pick(s, ('ide', 'blkreplay'))}:hang:message={20 + s % 200}", "stops"),
)


@dataclass
class Cell:
    """One run of the campaign and what came of it."""

    kind: str
    seed: int
    spec: str
    expected: bool = False  # the outcome the kind declares
    replay_identical: bool = False  # completes / guest error: the replay matched; stops: it replayed the rest
    orphans: int = 0
    seconds: float = 0.0
    why: str = ""  # what was wrong, when something was


@dataclass
class Row:
    kind: str
    runs: int = 0
    expected: int = 0
    identical: int = 0
    orphans: int = 0
    seconds: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "runs": self.runs, "outcome_as_expected": self.expected,
                "replay_identical": self.identical, "orphans_left": self.orphans,
                "median_seconds": statistics.median(self.seconds) if self.seconds else None}


# --- one run ---------------------------------------------------------------------------


_running: set[subprocess.Popen[str]] = set()  # the reels the campaign's threads wait for now
_running_lock = threading.Lock()
_interrupted = threading.Event()  # set with the lock held: no reel starts after it


class Interrupted(Exception):
    """The campaign was interrupted: a run's next reel is not started."""


def _reel(args: list[str], tag: str, cwd: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = dict(os.environ, **{TAG: tag})
    began = time.monotonic()
    with _running_lock:  # started and listed under the lock, so an interrupt reaches it or it never starts
        if _interrupted.is_set():
            raise Interrupted("the campaign was interrupted: no reel starts now")
        proc = subprocess.Popen([sys.executable, "-m", "launch", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
        _running.add(proc)
    with proc:
        try:
            done = _outcome(proc, tag, began + RUN_TIMEOUT)
        finally:
            with _running_lock:
                _running.discard(proc)
    return done, time.monotonic() - began


def _outcome(proc: subprocess.Popen[str], tag: str, deadline: float) -> subprocess.CompletedProcess[str]:
    """``proc``'s output once it has ended (killed at ``deadline``). Its
    output ends when the last process holding it does: a leftover of the
    run that outlives the reel (none should) is killed once the reel has
    been gone LEFTOVER_GRACE, or the campaign would wait on it for good,
    deaf to Ctrl-C."""
    notes: list[str] = []
    timed_out = False
    ended_at: float | None = None
    while True:
        try:
            out, err = proc.communicate(timeout=1.0)  # (retried: no output is lost)
            return subprocess.CompletedProcess(proc.args, -1 if timed_out else proc.returncode, _text(out),
                                               _text(err) + "".join(f"\n({note})" for note in notes))
        except subprocess.TimeoutExpired:
            now = time.monotonic()
            if proc.poll() is None:
                if now > deadline and not timed_out:
                    proc.kill()
                    timed_out = True
                    notes.insert(0, "timed out")
            elif ended_at is None:
                ended_at = now
            elif now - ended_at > LEFTOVER_GRACE:
                notes.append(f"{_reap(tag)} leftover process(es) held its output after it ended; killed")
                ended_at = float("inf")  # (once)


def _interrupt_running() -> None:
    """Ctrl-C for every reel the campaign runs now: each stops its run in
    order (a signal sent to the campaign alone, by a supervisor say, would
    otherwise wait for them, up to a run's time-out)."""
    with _running_lock:
        _interrupted.set()
        for proc in _running:
            with contextlib.suppress(OSError):
                proc.send_signal(signal.SIGINT)


def _text(data: bytes | str | None) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else data or ""


def run_cell(kind: FaultKind, seed: int, folder: str) -> Cell:
    spec = kind.spec(seed)
    cell = Cell(kind.name, seed, spec)
    tag = uuid.uuid4().hex
    work = Path(folder) / f"{kind.name.replace(' ', '-')}-{seed}"
    work.mkdir(parents=True)
    disks = []
    for i in range(2):
        path = work / f"d{i}.img"
        with open(path, "wb") as f:
            f.truncate(DISK_BYTES)
        disks.append(str(path))
    log = str(work / "run.reel")
    disk_args = [a for d in disks for a in ("--disk", d)]
    try:
        recorded, seconds = _reel(["-q", "record", GUEST, *disk_args, "--log", log, "--latency", LATENCY,
                                   "--seed", str(seed), "--fault", spec], tag, str(work))
        replayed, more = (_reel(["-q", "replay", log, "--latency", LATENCY, "--seed", str(seed + 1000)], tag,
                                str(work)) if os.path.exists(log) else (None, 0.0))
    finally:
        cell.orphans = _reap(tag)  # (interrupted too: what the stopped record left is killed)
    cell.seconds = seconds + more
    cell.expected, why = _judge(kind, spec, recorded)
    cell.replay_identical, replay_why = _judge_replay(kind, recorded, replayed)
    cell.why = "; ".join(w for w in (why, replay_why) if w)
    shutil.rmtree(work, ignore_errors=True)
    return cell


def _judge(kind: FaultKind, spec: str, recorded: subprocess.CompletedProcess[str]) -> tuple[bool, str]:
    out, err, code = recorded.stdout, recorded.stderr, recorded.returncode
    if kind.outcome == "completes":
        ok = code == 0 and "journal entries 128\n" in out
        return ok, "" if ok else f"recording exit {code}: {_last(err)}"
    if kind.outcome == "guest error":
        ok = code == 3 and "request FAILED" in out
        return ok, "" if ok else f"recording exit {code}, no failed request reported: {_last(err)}"
    actor = spec.split(":")[1]
    ok = code == 70 and re.search(rf"\b{re.escape(actor)}\b", err) is not None and spec in err
    return ok, "" if ok else f"recording exit {code}, not a stop naming {actor} and {spec}: {_last(err)}"


def _judge_replay(kind: FaultKind, recorded: subprocess.CompletedProcess[str],
                  replayed: subprocess.CompletedProcess[str] | None) -> tuple[bool, str]:
    if replayed is None:
        return False, "no log to replay"
    if kind.outcome == "stops":
        ok = replayed.returncode == 4 and recorded.stdout.startswith(replayed.stdout)
        return ok, "" if ok else f"replay of the cut log exit {replayed.returncode}: {_last(replayed.stderr)}"
    ok = replayed.returncode == 0 and replayed.stdout == recorded.stdout
    return ok, "" if ok else f"replay exit {replayed.returncode}: {_last(replayed.stderr)}"


def _last(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def _reap(tag: str) -> int:
    """Processes still carrying the run's tag: orphans. They are counted and
    killed, so one bad run does not spoil the next."""
    needle = f"{TAG}={tag}".encode()
    found = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle not in f.read().split(b"\0"):
                    continue
            os.kill(int(entry), signal.SIGKILL)
            found += 1
        except (OSError, ProcessLookupError):
            continue
    return found


# --- the campaign ------------------------------------------------------------------------


def plan(runs: int, kinds: tuple[FaultKind, ...] = KINDS) -> list[tuple[FaultKind, int]]:
    """``runs`` cells, spread evenly over the kinds, seeds counting from 1."""
    return [(kinds[i % len(kinds)], 1 + i // len(kinds)) for i in range(runs)]


def campaign(runs: int, jobs: int, progress: TextIO | None = sys.stderr,
             kinds: tuple[FaultKind, ...] = KINDS) -> list[Row]:
    cells: list[Cell] = []
    _interrupted.clear()  # (a campaign run earlier in this process may have been interrupted)
    with _scratch.scratch("faults") as folder, \
            concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        futures = [pool.submit(run_cell, kind, seed, folder) for kind, seed in plan(runs, kinds)]
        try:
            for future in concurrent.futures.as_completed(futures):
                cells.append(future.result())
                if progress is not None:
                    _progress(progress, cells, runs)
        except BaseException:  # Ctrl-C or SIGTERM: no run still queued starts, those running stop; the folder goes
            for future in futures:
                future.cancel()
            _interrupt_running()
            raise
    if progress is not None:
        progress.write("\n")
        for cell in cells:
            if cell.why or cell.orphans:
                progress.write(f"  {cell.kind} seed {cell.seed} ({cell.spec}): {cell.why or ''}"
                               f"{f' {cell.orphans} orphan(s)' if cell.orphans else ''}\n")
    return _rows(cells, kinds)


def _progress(out: TextIO, cells: list[Cell], total: int) -> None:
    width = 30
    done = len(cells)
    bad = sum(1 for c in cells if not (c.expected and c.replay_identical) or c.orphans)
    bar = "#" * (width * done // total) + "." * (width - width * done // total)
    line = f"[{bar}] {done}/{total} runs, {bad} misbehaved"
    out.write(("\r" + line) if out.isatty() else (line + "\n" if done % 10 == 0 or done == total else ""))
    out.flush()


def _rows(cells: list[Cell], kinds: tuple[FaultKind, ...]) -> list[Row]:
    rows = {kind.name: Row(kind.name) for kind in kinds}
    for cell in cells:
        row = rows[cell.kind]
        row.runs += 1
        row.expected += cell.expected
        row.identical += cell.replay_identical
        row.orphans += cell.orphans
        row.seconds.append(cell.seconds)
    return [row for row in rows.values() if row.runs]


def all_well(rows: list[Row]) -> bool:
    return all(r.expected == r.runs and r.identical == r.runs and r.orphans == 0 for r in rows)


def table(rows: list[Row]) -> str:
    head = f"{'fault kind':<12} {'runs':>5} {'outcome as expected':>20} {'replay identical':>17} " \
           f"{'orphans left':>13} {'median s':>9}"
    lines = [head, "-" * len(head)]
    for r in rows:
        median = statistics.median(r.seconds) if r.seconds else 0.0
        lines.append(f"{r.kind:<12} {r.runs:>5} {r.expected:>20} {r.identical:>17} {r.orphans:>13} {median:>9.2f}")
    return "\n".join(lines)
