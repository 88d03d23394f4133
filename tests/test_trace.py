"""Frame tracing (REEL_TRACE_DIR, reel trace): every frame taken is
matched with its push, so hop latencies are exact."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from .conftest import REPO, _env, reel_command, run_reel


def test_a_traced_run_gives_every_link_its_hops_and_every_blocking_actor_its_waiting(tmp_path: Path) -> None:
    from actors._trace import Pushed, Taken, load

    folder = tmp_path / "trace"
    folder.mkdir()
    env = _env() | {"REEL_TRACE_DIR": str(folder)}
    # With a latency the disk runs on the asyncio driver (without, inline on the blocking one):
    # the run has an actor of each kind.
    run = subprocess.run(reel_command("run", "diskqd1", "--disk", "memory:8M", "--latency", "fixed:20us"),
                         capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert run.returncode == 0, run.stderr
    traces = {t.actor: t for t in load(str(folder))}
    assert set(traces) == {"cpu", "ide", "disk0"}
    # Both notes of a frame agree: every machine frame taken was pushed, with as many messages.
    for actor, trace in traces.items():
        for e in trace.events:
            if isinstance(e, Taken):
                pushes = [p for p in traces[e.peer].events if isinstance(p, Pushed) and p.peer == actor
                          and p.seq == e.seq]
                assert len(pushes) == 1 and pushes[0].count == len(e.kinds) and pushes[0].t <= e.t, (actor, e)
    result = run_reel("trace", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    links = summary["links"]
    assert set(links) == {"cpu -> ide", "ide -> cpu", "ide -> disk0", "disk0 -> ide"}
    # One read each way, and the Drain at the guest's exit and its answer.
    assert links["ide -> disk0"]["frames"] == links["disk0 -> ide"]["frames"] == 2000 + 1
    assert all(0 < s["median_hop_us"] <= s["p90_hop_us"] for s in links.values())
    actors = summary["actors"]
    assert 0 < actors["cpu"]["waiting_share"] < 1 and 0 < actors["ide"]["waiting_share"] < 1
    assert actors["disk0"]["waiting_share"] is None  # asyncio: it waits in its event loop
    table = run_reel("trace", str(folder))
    assert "median hop us" in table.stdout and "disk0 -> ide" in table.stdout


def test_reel_trace_says_what_is_wrong_with_its_folder(tmp_path: Path) -> None:
    empty = run_reel("trace", str(tmp_path))
    assert empty.returncode == 2 and "no .trace files (run with REEL_TRACE_DIR=" in empty.stderr
    (tmp_path / "cpu.trace").write_bytes(os.urandom(64))
    bad = run_reel("trace", str(tmp_path))
    assert bad.returncode == 2 and "cpu.trace: not a trace" in bad.stderr, bad.stderr
    missing = run_reel("trace", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and f"reel: {tmp_path / 'nowhere'}: No such file or directory" in missing.stderr


@pytest.mark.parametrize("kind", ["pipe", "endless"])
def test_reel_trace_refuses_a_trace_that_is_not_a_file(tmp_path: Path, kind: str) -> None:
    """A named pipe blocked reel trace for ever; a link to /dev/zero read
    until memory ran out, with a traceback."""
    path = tmp_path / "cpu.trace"
    if kind == "pipe":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    result = run_reel("trace", str(tmp_path), timeout=20)
    assert result.returncode == 2 and f"reel: {path}: not a regular file" in result.stderr, result.stderr


def test_reel_trace_reads_the_last_run_only_and_says_what_it_left_out(tmp_path: Path) -> None:
    """A run writes one file per actor: an earlier run's actors that the
    last one did not have were still in the folder, and went into its
    summary as if they had taken part."""
    import msgspec

    from actors._trace import Pushed, Taken, Trace, load

    def write(actor: str, run: str, events: list, mtime: int) -> None:
        path = tmp_path / f"{actor}.trace"
        path.write_bytes(msgspec.msgpack.encode(Trace(actor, events, run)))
        os.utime(path, ns=(mtime, mtime))

    write("a", "run1", [Pushed(1000, "old", 1, 1)], 1_000_000_000)
    write("old", "run1", [Taken(3000, "a", 1, ["Item"])], 1_000_000_000)
    write("a", "run2", [Pushed(1000, "b", 1, 1)], 2_000_000_000)  # (replaces run1's a.trace, as a run does)
    write("b", "run2", [Taken(2000, "a", 1, ["Item"])], 2_000_000_000)
    left_out: list[str] = []
    assert sorted(t.actor for t in load(str(tmp_path), left_out)) == ["a", "b"]
    assert left_out == ["old.trace"]
    result = run_reel("trace", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    assert list(json.loads(result.stdout)["links"]) == ["a -> b"]
    assert f"reel: left out 1 trace file(s) of an earlier run in {tmp_path}: old.trace" in result.stderr


def test_profiling_writes_one_profile_per_actor_and_a_folder_it_cannot_use_is_an_error_not_a_crash(
        tmp_path: Path) -> None:
    import pstats

    folder = tmp_path / "made" / "profiles"  # made by the actors as they end
    good = subprocess.run(reel_command("run", "hello"), capture_output=True, text=True, cwd=REPO, timeout=120,
                          env=_env() | {"REEL_PROFILE_DIR": str(folder)})
    assert good.returncode == 0, good.stderr
    assert [p.name for p in folder.iterdir()] == ["cpu.prof"]
    assert pstats.Stats(str(folder / "cpu.prof")).total_calls > 0
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    bad = subprocess.run(reel_command("run", "hello"), capture_output=True, text=True, cwd=REPO, timeout=120,
                         env=_env() | {"REEL_PROFILE_DIR": str(blocker / "profiles")})
    assert bad.returncode == 0 and "hello" in bad.stdout  # the run itself went well
    assert f"cannot write the profile {blocker / 'profiles' / 'cpu.prof'}: Not a directory" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_the_waiting_share_counts_a_last_wait_whole() -> None:
    """The span ran from the first event's beginning to the last one's
    beginning, so a run ending in a long wait showed over 100% waiting."""
    from actors._trace import Pushed, Trace, Waited, summarize

    trace = Trace("cpu", [Waited(0, 1000), Pushed(1500, "ide", 1, 1), Waited(2000, 8000)])
    assert summarize([trace])["actors"]["cpu"]["waiting_share"] == 0.9
