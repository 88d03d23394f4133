"""``reel demo``: record and replay shown side by side.

The bundled ``journal`` guest keeps DMA requests in flight on two disks at
once and prints a digest of the order their completions arrived in, so
disk timing reaches its console, its memory and disk 0. The demo records it
under seeded random completion latency, replays the log twice under other
latency seeds, runs it twice more without blkreplay (topology
``ide-direct``), and prints the final digests of all five runs. The replays
must equal the recording; the direct runs are free to differ.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Callable, Iterator

import msgspec
import xxhash

from actors.image.backends import file_digest

from . import _scratch, disks, guests, recording
from .launcher import EXIT_OK, EXIT_RUN_FAILED, EXIT_SIGINT, EXIT_SIGTERM, Launcher, RunResult
from .machines import ide_direct

GUEST = "journal"
DISK_SIZE = "8M"
DISK_COUNT = 2
LATENCY = "uniform:0:2ms"
RECORD_SEED = 1
REPLAY_SEEDS = (2, 3)
DIRECT_SEEDS = (4, 5)
RAM_MIB = 16
EXIT_REPLAY_DIFFERED = 1

ROWS = ["latency seed", "console", "exit code", "icount", "cpu state", "memory"] + \
       [f"disk {i}" for i in range(DISK_COUNT)]
COMPARED = ROWS[1:]  # the seed differs on purpose
SHOWN_HEX = 12  # digits of each digest in the table: enough to tell runs apart

RunWith = Callable[[Launcher], RunResult]


class Interrupted(Exception):
    """A run was stopped by SIGINT or SIGTERM: the demo stops there too."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Run(msgspec.Struct):
    """One run of the demo: its column of the table and how it ended."""

    label: str
    result: RunResult
    figures: dict[str, str]


def demo(level: int, run_with: RunWith) -> int:
    """Run the five runs, print the table and the verdict; the exit code."""
    try:
        return _demo(level, run_with)
    except Interrupted as stop:
        return stop.code


def _demo(level: int, run_with: RunWith) -> int:
    name, image = guests.load(GUEST)
    steps = 1 + len(REPLAY_SEEDS) + len(DIRECT_SEEDS)
    with _scratch.scratch("demo") as folder:
        bases = [disks.make(os.path.join(folder, f"base{i}.img"), DISK_SIZE).path for i in range(DISK_COUNT)]
        log = os.path.join(folder, f"{GUEST}.reel")
        recorded = _step(1, steps, f"recording {GUEST} on {DISK_COUNT} blank {DISK_SIZE} disks, latency {LATENCY} "
                                   f"seed {RECORD_SEED}",
                         lambda: _record(name, image, bases, log, folder, level, run_with))
        if recorded.result.code != EXIT_OK or recorded.result.finished_by != "logger":
            print(f"reel demo: the recording failed, nothing to replay: {recorded.result.reason}", file=sys.stderr)
            return EXIT_RUN_FAILED
        runs = [recorded]
        for i, seed in enumerate(REPLAY_SEEDS, 1):
            runs.append(_step(len(runs) + 1, steps, f"replaying the log, latency {LATENCY} seed {seed}",
                              lambda: _replay(f"replay {i}", log, seed, folder, level, run_with)))
        for i, seed in enumerate(DIRECT_SEEDS, 1):
            runs.append(_step(len(runs) + 1, steps, f"running {GUEST} without blkreplay (ide-direct), "
                                                    f"latency {LATENCY} seed {seed}",
                              lambda: _direct(f"direct {i}", name, image, bases, seed, folder, level, run_with)))
    _print_table(runs)
    return _verdict(runs)


# --- the runs ----------------------------------------------------------------------


def _record(name: str, image: bytes, bases: list[str], log: str, folder: str, level: int,
            run_with: RunWith) -> Run:
    console = os.path.join(folder, "record.console")
    with _stdout_to(console):
        result = recording.record(name, image, bases, log, LATENCY, RECORD_SEED, "raw", RAM_MIB, level, run_with)
    report = result.report
    figures = {"exit code": str(report.get("guest_code", "-")), "icount": str(report.get("icount", "-")),
               "cpu state": report.get("state_digest", "-"), "memory": report.get("memory_digest", "-")}
    figures.update({f"disk {i}": d for i, d in enumerate(report.get("disks", []))})
    return Run("recording", result, _with_console(figures, console, RECORD_SEED))


def _replay(label: str, log: str, seed: int, folder: str, level: int, run_with: RunWith) -> Run:
    console = os.path.join(folder, f"{label.replace(' ', '')}.console")
    with _stdout_to(console):
        result = recording.replay(log, [], LATENCY, seed, "raw", level, run_with)
    # The logger compares the replay's end with the log's; its "replay" side
    # is this run's own figures. A divergence stops the run: no figures then.
    compare = result.report.get("compare", {})
    figures = {what: str(pair["replay"]) for what, pair in compare.items()}
    return Run(label, result, _with_console(figures, console, seed))


def _direct(label: str, name: str, image: bytes, bases: list[str], seed: int, folder: str, level: int,
            run_with: RunWith) -> Run:
    own = os.path.join(folder, label.replace(" ", ""))
    os.mkdir(own)
    copies = [recording.working_copy(base, own, i) for i, base in enumerate(bases)]
    topology = ide_direct(name, image, copies, RAM_MIB, latency=LATENCY, seed=seed)
    console = os.path.join(own, "console")
    with _stdout_to(console):
        result = run_with(Launcher(topology, log_level=level, origin=f"demo {label}"))
    figures: dict[str, str] = {}
    if result.finished_by == "cpu":  # the cpu's report: the guest ran to its exit
        report = result.report
        figures = {"exit code": str(result.code), "icount": str(report["icount"]),
                   "cpu state": report["state_digest"], "memory": report["memory_digest"]}
        # Without a logger nobody digests the disks: read the working copies.
        figures.update({f"disk {i}": file_digest(copy.path)[1] for i, copy in enumerate(copies)})
    return Run(label, result, _with_console(figures, console, seed))


def _with_console(figures: dict[str, str], console: str, seed: int) -> dict[str, str]:
    with open(console, "rb") as f:
        captured = f.read()
    return {**figures, "latency seed": str(seed), "console": xxhash.xxh3_128_hexdigest(captured)}


@contextlib.contextmanager
def _stdout_to(path: str) -> Iterator[None]:
    """Send this process's stdout (fd 1) to ``path`` for one run: the actor
    processes inherit it, and the cpu actor writes the guest console there."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(path, "wb") as target:
            os.dup2(target.fileno(), 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _step(step: int, steps: int, what: str, run: Callable[[], Run]) -> Run:
    """One run between two progress lines (each takes a few seconds)."""
    print(f"[{step}/{steps}] {what} ...", flush=True)
    began = time.monotonic()
    done = run()
    if done.result.code in (EXIT_SIGINT, EXIT_SIGTERM):
        raise Interrupted(done.result.code)
    print(f"      {_first_line(done.result.reason)} ({time.monotonic() - began:.1f} s)", flush=True)
    return done


# --- the table and the verdict -----------------------------------------------------------


def _differences(run: Run, recorded: Run) -> list[str]:
    return [row for row in COMPARED if run.figures.get(row) != recorded.figures.get(row)]


def _print_table(runs: list[Run]) -> None:
    width = SHOWN_HEX + 2
    print()
    print(_line("", [run.label for run in runs], width))
    for row in ROWS:
        print(_line(row, [run.figures.get(row, "-")[:SHOWN_HEX] for run in runs], width))
    print(f"(console: xxh3-128 of the guest's output; cpu state, memory, disks: xxh3-128 digests, "
          f"first {SHOWN_HEX} hex digits)")
    print()


def _line(head: str, cells: list[str], width: int) -> str:
    return (f"{head:<14}" + "".join(f"{cell:<{width}}" for cell in cells)).rstrip()


def _verdict(runs: list[Run]) -> int:
    recorded, replays, directs = runs[0], runs[1:1 + len(REPLAY_SEEDS)], runs[1 + len(REPLAY_SEEDS):]
    replays_equal = all([_judge_replay(run, recorded) for run in replays])  # a list: every run gets its line
    directs_ran = all([_describe_direct(run, recorded) for run in directs])
    if directs_ran and len(directs) == 2:  # the baseline disagreeing with itself shows what replay removes
        differ = _differences(directs[1], directs[0])
        print(f"{directs[0].label} vs {directs[1].label}: "
              + (f"differ in {', '.join(differ)}" if differ else "equal this time"))
    if not replays_equal:
        print("verdict: FAILED: a replay did not reproduce the recording")
        return EXIT_REPLAY_DIFFERED
    if not directs_ran:
        print("verdict: FAILED: a direct run did not run to the guest's exit")
        return EXIT_RUN_FAILED
    print("verdict: both replays reproduced the recording exactly; the direct runs were free to differ")
    return EXIT_OK


def _judge_replay(run: Run, recorded: Run) -> bool:
    """Equal: the logger found no difference, nor does the table."""
    differ = _differences(run, recorded)
    equal = run.result.code == EXIT_OK and not differ
    print(f"{run.label}: " + ("equal to the recording in every row" if equal else
                              "NOT equal to the recording" + (f" in {', '.join(differ)}" if differ else ""))
          + f" ({_first_line(run.result.reason)})")
    return equal


def _describe_direct(run: Run, recorded: Run) -> bool:
    """Whether it differed from the recording; False when it did not run to the guest's exit."""
    if run.result.finished_by != "cpu":
        print(f"{run.label}: did not run to the guest's exit: {_first_line(run.result.reason)}")
        return False
    differ = _differences(run, recorded)
    print(f"{run.label}: " + (f"differs from the recording in {', '.join(differ)}" if differ else
                              "happened to equal the recording (nothing in ide-direct makes it so)"))
    return True


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""
