"""Fault injection: one test per fault kind and its defined outcome (issue 6).

The guest is ``journal`` on two blank 8 MiB disks, recorded with
``reel record ... --latency uniform:0:2ms --seed 1 --fault SPEC`` and then
replayed. Benign faults (delay, reorder, duplicates, garbage, a slow disk)
leave a recording that completes and replays identically; the disk faults
reach the guest and replay; crashes and hangs stop the run cleanly, within
the bound, naming the actor and the fault, with no process left behind.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path

import psutil
import pytest

from .conftest import REPO, _env, reel_command, run_reel, wait_gone
from .test_replay import (
    EXIT_TRUNCATED,
    GUEST,
    RECORD_SEED,
    TIMEOUT,
    assert_matched,
    blank_disks,
    disk_args,
    end_record,
    inspect,
    record,
    recorded_journal,
    recorded_request_failure,
    replay,
    show,
    timing,
)

EXIT_RUN_FAILED = 70
OBSERVED = re.compile(r"^reel: faults observed: (.*)$", re.M)


def observed(stderr: str) -> dict[str, dict[str, int]]:
    """``faults observed`` line -> {"duplicates": {actor: n}, "malformed": {actor: n}}."""
    out: dict[str, dict[str, int]] = {"duplicates": {}, "malformed": {}}
    m = OBSERVED.search(stderr)
    if m:
        for n, what, actor in re.findall(r"(\d+) (duplicates|malformed frames) dropped by (\S+?)(?:,|$)", m[1]):
            out["duplicates" if what == "duplicates" else "malformed"][actor] = int(n)
    return out


def benign(tmp_path: Path, spec: str) -> tuple[str, str]:
    """Record with ``spec``: completes as without faults; the replay (no
    fault injected) matches; the log's header lists the fault."""
    rec = record(tmp_path, "--fault", spec)
    assert rec.result.returncode == 0, show(rec.result)
    assert "journal entries 128\n" in rec.result.stdout, show(rec.result)
    assert inspect(rec.log)["header"]["faults"] == [spec]
    result = replay(rec.log)
    assert_matched(result, rec, end_record(rec.log), f"replay of a recording with {spec}")
    return rec.result.stdout, rec.result.stderr


# --- benign faults -------------------------------------------------------------------------


def test_delayed_link_records_and_replays_identically(tmp_path: Path) -> None:
    spec = "link:ide->blkreplay:delay:uniform:0:1ms"
    _, err = benign(tmp_path, spec)
    assert f"injected fault {spec}: holding each machine frame to blkreplay" in err, err


def test_a_link_delay_longer_than_the_liveness_bound_makes_frames_late_not_actors_hung(tmp_path: Path) -> None:
    """Each frame from source to relay held 1.5 s, the bound 1 s: the sender
    sleeps, but says Heartbeat meanwhile, and holds no silence against its
    peers after (before, the run stopped calling one side hung)."""
    from .conftest import run_reel

    topology = tmp_path / "slow.toml"
    topology.write_text(
        'faults = ["link:source->relay:delay:fixed:1500ms"]\n[run]\nliveness = 1.0\n'
        '[[actor]]\nname = "source"\nimpl = "actors.examples.chain:Source"\nparams = { count = 3, to = "relay" }\n'
        '[[actor]]\nname = "relay"\nimpl = "actors.examples.chain:Relay"\nparams = { to = "sink" }\n'
        '[[actor]]\nname = "sink"\nimpl = "actors.examples.chain:Sink"\n'
        '[[link]]\nbetween = ["source", "relay"]\n[[link]]\nbetween = ["relay", "sink"]\n')
    result = run_reel("launch", str(topology), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "holding each machine frame to relay" in result.stderr


def test_a_request_numbered_fault_strikes_the_request_the_guest_made_whatever_the_timing(tmp_path: Path) -> None:
    """tests/guests/abandoned.c asks disk 0 for W, then R (which blkreplay
    holds behind W, in flight: it overlaps it), then C, and reports C. C
    is the disk's third request, so request=3 fails it and request=2 does
    not. While W took long (here 300 ms), C reached the disk before R
    did: request=3 failed R instead, and which request a plan failed
    depended on the disk's timing."""
    from .conftest import build_guest

    elf = build_guest([REPO / "tests" / "guests" / "abandoned.c", REPO / "guests" / "ata.c"], tmp_path / "a.elf")
    [disk] = blank_disks(tmp_path / "disks", 1)
    for number, says in ((3, "C failed"), (2, "C ok")):
        log = tmp_path / f"r{number}.reel"
        result = run_reel("record", str(elf), "--disk", str(disk), "--log", str(log), "--latency", "fixed:300ms",
                          "--fault", f"disk0:error:request={number}", timeout=TIMEOUT)
        assert result.returncode == 0 and result.stdout == says + "\n", show(result)
        # The disk says which of its requests the fault took (blkreplay and the ide number them otherwise).
        assert f"injected fault disk0:error:request={number} on this disk's request {number}: EIO" in result.stderr
        replayed = replay(log)
        assert replayed.returncode == 0 and replayed.stdout == result.stdout, show(replayed)


def test_reordered_completions_record_and_replay_identically(tmp_path: Path) -> None:
    """blkreplay takes the two disks' completions in seeded groups: the log
    shows checkpoints delivering requests against their submission order,
    the replay matches, and so does a replay that reorders arrivals again."""
    from actors.logger.logfile import read
    from launch.faults import actor_params, plan

    spec = "disks:reorder:window=4"
    rec = record(tmp_path, "--fault", spec)
    assert rec.result.returncode == 0, show(rec.result)
    assert f"injected fault {spec}: completions of requests" in rec.result.stderr, show(rec.result)
    against = [c.events for c in read(str(rec.log)).checkpoints
               if [i for i, _ in c.events] != sorted(i for i, _ in c.events)]
    assert against, "no checkpoint delivered completions against their submission order"
    for seed in (2, 3):
        result = replay(rec.log, "--fault", "disks:reorder:window=3", seed=seed)
        assert_matched(result, rec, end_record(rec.log), f"replay (seed {seed}) reordering arrivals itself")
    # blkreplay is given the fault, with a seed drawn from the run's
    faults = plan([spec], 2, RECORD_SEED)
    given = actor_params(faults, "blkreplay", {"mode": "record"})["reorder"]
    assert given["window"] == 4 and given["spec"] == spec
    assert given["seed"] != actor_params(plan([spec], 2, 2), "blkreplay", {})["reorder"]["seed"]
    assert actor_params(faults, "disk0", {"latency": "none"}) == {"latency": "none"}


def test_a_reorder_strikes_each_group_of_two_or_more_whatever_order_it_draws() -> None:
    """Seed 0 keeps a group of two in its order: the fault still acted on
    it (it was counted as never struck, 'never had two completions')."""
    from actors.blkreplay import CompletionReorder, ReorderWindow
    from actors.schema import BlockCompletion

    struck: list[str] = []
    window = ReorderWindow(CompletionReorder("disks:reorder:window=2", 2, 0), lambda note: None, struck.append)
    window.take(BlockCompletion(0, 0), in_flight=2)
    assert [c.id for c in window.take(BlockCompletion(1, 0), in_flight=2)] == [0, 1]
    assert struck == ["disks:reorder:window=2"]
    window.take(BlockCompletion(2, 0), in_flight=1)  # a group of one: nothing to order
    assert struck == ["disks:reorder:window=2"]


def test_every_disk_fault_a_request_meets_struck_it() -> None:
    """disk0:error:request=3 decides request 3's result; lba=0-100 met it
    too (it was said never to have struck: 'no request met it')."""
    from actors.image.faults import DiskFault, striking

    by_number = DiskFault("error", "disk0:error:request=3", request=3)
    by_lba = DiskFault("error", "disk0:error:lba=0-100", first_lba=0, last_lba=100)
    assert striking([by_number, by_lba], 3, "read", 0, 512) == [by_number, by_lba]
    assert striking([by_number, by_lba], 4, "read", 1 << 20, 512) == []


def test_reorder_lets_groups_of_the_window_go_in_a_seeded_order_or_all_that_is_in_flight() -> None:
    from actors.blkreplay import CompletionReorder, ReorderWindow
    from actors.schema import BlockCompletion

    def run(seed: int) -> tuple[list[int], list[str]]:
        notes: list[str] = []
        window = ReorderWindow(CompletionReorder("disks:reorder:window=4", 4, seed), notes.append)
        out: list[int] = []
        for i in range(8):  # plenty in flight: groups of four
            out += [c.id for c in window.take(BlockCompletion(i, 0), in_flight=10)]
        assert [c.id for c in window.take(BlockCompletion(8, 0), in_flight=2)] == []
        assert window.holds(8) and not window.holds(7)
        out += [c.id for c in window.take(BlockCompletion(9, 0), in_flight=1)]  # all that is in flight is held
        return out, notes

    out, notes = run(7)
    assert sorted(out[:4]) == [0, 1, 2, 3] and sorted(out[4:8]) == [4, 5, 6, 7] and sorted(out[8:]) == [8, 9]
    assert out != list(range(10)), "nothing was reordered"
    assert len(notes) == 1 and "go on as" in notes[0], notes
    assert run(7)[0] == out  # the same seed, the same order
    assert any(run(seed)[0] != out for seed in range(8, 12))


def test_reorder_needs_blkreplay_and_is_not_a_disk_fault(tmp_path: Path) -> None:
    disks = blank_disks(tmp_path / "base")
    direct = run_reel("run", GUEST, *disk_args(disks), "--fault", "disks:reorder:window=4", timeout=TIMEOUT)
    assert direct.returncode == 2, show(direct)
    assert "no actor 'blkreplay'" in direct.stderr and "use reel record" in direct.stderr, show(direct)


def test_duplicated_frames_are_dropped_counted_and_shown(tmp_path: Path) -> None:
    _, err = benign(tmp_path, "link:ide->blkreplay:duplicate:every=3")
    dropped = observed(err)["duplicates"]
    assert set(dropped) == {"blkreplay"} and dropped["blkreplay"] > 0, err


def test_garbage_frames_are_counted_as_malformed_and_shown(tmp_path: Path) -> None:
    _, err = benign(tmp_path, "actor:ide:garbage:count=25")
    assert observed(err)["malformed"] == {"ide": 25}, err


def test_a_slow_disk_records_and_replays_identically(tmp_path: Path) -> None:
    from launch.faults import actor_params, plan

    spec = "disk0:slow:exp:1ms"
    benign(tmp_path, spec)
    faults = plan([spec], 2, RECORD_SEED)
    assert actor_params(faults, "disk0", {"latency": "none"})["latency"] == "exp:1ms"
    assert actor_params(faults, "disk1", {"latency": "none"})["latency"] == "none"


# --- a disk fault the guest sees -------------------------------------------------------------


def test_a_full_disk_fails_the_write_and_replays(tmp_path: Path) -> None:
    rec = recorded_request_failure(tmp_path, "disk0:full:bytes=64K", channel=0)
    end = end_record(rec.log)
    assert end["exit_code"] == 3
    result = replay(rec.log)
    assert_matched(result, rec, end, "replay of a full disk")


# --- crashes and hangs -------------------------------------------------------------------------


class Watched:
    """``reel ARGS`` with every actor process it starts watched: when
    ``target`` vanished, when reel ended, and which pids there were."""

    def __init__(self, *args: str, target: str) -> None:
        self.proc = subprocess.Popen(reel_command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, cwd=REPO, env=_env())
        self.lines: list[tuple[float, str]] = []
        self.out = ""
        readers = [threading.Thread(target=self._stderr), threading.Thread(target=self._stdout)]
        for r in readers:
            r.start()
        self.pids: dict[str, int] = {}
        self.target_gone: float | None = None
        deadline = time.monotonic() + TIMEOUT
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._look(target)
            time.sleep(0.01)
        self.ended = time.monotonic()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for r in readers:
            r.join()
        self.code = self.proc.returncode
        self.err = "".join(line for _, line in self.lines)

    def _look(self, target: str) -> None:
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return
        for child in children:
            try:
                cmd = child.cmdline()
            except psutil.Error:
                continue
            if "--name" in cmd:
                self.pids.setdefault(cmd[cmd.index("--name") + 1], child.pid)
        if target in self.pids and self.target_gone is None and not _alive(self.pids[target]):
            self.target_gone = time.monotonic()

    def _stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append((time.monotonic(), line))

    def _stdout(self) -> None:
        assert self.proc.stdout is not None
        self.out = self.proc.stdout.read()

    def when(self, pattern: str) -> float:
        for at, line in self.lines:
            if re.search(pattern, line):
                return at
        raise AssertionError(f"no line matching {pattern!r} in:\n{self.err}")

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out}--- stderr\n{self.err}"


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def assert_crash_stopped_cleanly(run: Watched, actor: str, spec: str) -> None:
    assert run.code == EXIT_RUN_FAILED, str(run)
    assert actor in run.pids and run.target_gone is not None, f"never saw {actor!r} run and vanish\n{run}"
    took = run.ended - run.target_gone
    assert took < 2.0, f"the run stopped {took:.2f} s after {actor!r} died\n{run}"
    assert re.search(rf"^reel: actor '{actor}' \(pid {run.pids[actor]}\) was killed by SIGKILL "
                     rf"\(injected fault {re.escape(spec)}\)", run.err, re.M), str(run)
    wait_gone(list(run.pids.values()), 1.0)
    left = [name for name, pid in run.pids.items() if _alive(pid)]
    assert not left, f"orphans: {left}"


@pytest.mark.parametrize("actor,spec", [("ide", "actor:ide:crash:checkpoint=20"),
                                        ("disk0", "actor:disk0:crash:message=30")])
def test_a_crash_while_recording_stops_the_run_naming_the_fault_and_the_log_replays(
        tmp_path: Path, actor: str, spec: str) -> None:
    disks = blank_disks(tmp_path / "base")
    log = tmp_path / "run.reel"
    run = Watched("record", GUEST, *disk_args(disks), "--log", str(log), *timing(RECORD_SEED), "--fault", spec,
                  target=actor)
    assert_crash_stopped_cleanly(run, actor, spec)
    result = replay(log)
    assert result.returncode == EXIT_TRUNCATED, show(result)
    assert run.out.startswith(result.stdout), show(result)


def test_a_crash_while_replaying_stops_the_run_naming_the_fault(tmp_path: Path) -> None:
    rec = recorded_journal(tmp_path)
    spec = "actor:blkreplay:crash:message=50"
    run = Watched("replay", str(rec.log), *timing(2), "--fault", spec, target="blkreplay")
    assert_crash_stopped_cleanly(run, "blkreplay", spec)
    refused = replay(rec.log, "--fault", "disk0:full:bytes=4M")
    assert refused.returncode == 2 and "a replay injects no disk faults" in refused.stderr, show(refused)


@pytest.mark.parametrize("liveness", [3.0, 1.5])
def test_a_hang_is_noticed_within_the_liveness_bound_and_named(tmp_path: Path, liveness: float) -> None:
    """With the recording topology's bound (3 s) and with --liveness."""
    spec = "actor:blkreplay:hang:message=40"
    disks = blank_disks(tmp_path / "base")
    bound = [] if liveness == 3.0 else ["--liveness", f"{liveness:g}"]
    run = Watched("record", GUEST, *disk_args(disks), "--log", str(tmp_path / "run.reel"), *timing(RECORD_SEED),
                  "--fault", spec, *bound, target="blkreplay")
    assert run.code == EXIT_RUN_FAILED, str(run)
    hung = run.when(rf"injected fault {re.escape(spec)}: hanging for good")
    noticed = run.when(rf"silent for more than {liveness:g} s \(liveness bound\)")
    # Silence counts from the last frame heard, a heartbeat interval (liveness / 6) at most before the hang.
    took = noticed - hung
    assert liveness * 5 / 6 - 0.3 <= took <= liveness + 1.5, f"noticed {took:.2f} s after the hang\n{run}"
    # Whoever noticed first (the launcher, or a peer), it is said alike; a peer's notice named the peer instead.
    assert re.search(rf"reel: actor 'blkreplay' silent for more than {liveness:g} s \(liveness bound\); it is hung or "
                     rf"unreachable \(injected fault {re.escape(spec)}\)", run.err), str(run)
    assert run.ended - noticed < 2.5, f"stopped {run.ended - noticed:.2f} s after noticing\n{run}"
    wait_gone(list(run.pids.values()), 1.0)
    assert not [name for name, pid in run.pids.items() if _alive(pid)]


# --- the plan: grammar, topology files -------------------------------------------------------------


@pytest.mark.parametrize("spec,why", [
    ("disk0:error:request=0", "counting from 1"),
    ("disk5:full:bytes=4M", "the run has 2 disk(s)"),
    ("disk0:full:bytes=lots", "is not a size"),
    ("disk0:slow:quick", "expected none, fixed:DUR"),
    ("disks:reorder:window=1", "window must be at least 2"),
    ("disk0:reorder:window=4", "disks:reorder:window=<W> reorders the completions of all disks"),
    ("disks:melt", "unknown fault of all disks 'melt'"),
    ("disk0:melt", "unknown disk fault 'melt'"),
    ("link:ide->ide:delay:fixed:1ms", "two different actors"),
    ("link:ide->blkreplay:duplicate:every=0", "every must be at least 1"),
    ("link:cpu->disk0:delay:fixed:1ms", "no link joins 'cpu' and 'disk0'"),
    ("actor:nobody:crash:random", "no actor 'nobody'"),
    ("actor:ide:crash:sometime", "crash:message=<N>, crash:checkpoint=<K> or crash:random"),
    ("actor:ide:hang:message=3:seconds=0", "seconds must be more than 0 and at most 86400"),
    # time.sleep takes at most 2**63 ns: this one crashed the actor with a traceback
    ("actor:ide:hang:message=3:seconds=9999999999", "at most 86400 (leave it out to hang for good)"),
    ("gremlins", "expected one of disk<I>:error"),
    # faults no request of an 8 MiB disk can meet: taken, never struck, and listed in the log as injected
    ("disk0:error:lba=16384-20000", "disk0 has sectors 0 to 16383: no request reaches LBA 16384"),
    ("disk1:full:bytes=8M", "disk1 holds 8388608 bytes: no write ends past 8388608"),
])
def test_a_bad_fault_spec_is_refused_naming_it_and_what_is_wrong(tmp_path: Path, spec: str, why: str) -> None:
    rec = record(tmp_path, "--fault", spec)
    assert rec.result.returncode == 2, show(rec.result)
    assert f"fault {spec!r}" in rec.result.stderr and why in rec.result.stderr, show(rec.result)
    assert not rec.log.exists()


def test_every_kind_of_fault_that_never_struck_is_said(tmp_path: Path) -> None:
    """Only crashes and hangs were said to have never struck: a disk error
    no request met, or a link fault on a link no frame took that way, was
    listed in the log as injected and nothing said otherwise. What struck
    is not said."""
    never = ["disk0:error:lba=16000", "link:logger->cpu:duplicate:every=1", "link:logger->ide:delay:fixed:1ms"]
    rec = record(tmp_path, *(a for spec in never + ["disk1:error:request=3"] for a in ("--fault", spec)))
    assert rec.result.returncode == 3, show(rec.result)  # (journal's own code: a request failed)
    said = re.findall(r"^reel: warning: injected fault (\S+) never struck: (.*)$", rec.result.stderr, re.M)
    assert said == [("disk0:error:lba=16000", "no request disk0 served met it"),
                    ("link:logger->cpu:duplicate:every=1", "logger pushed no machine frame to cpu"),
                    ("link:logger->ide:delay:fixed:1ms", "logger pushed no machine frame to ide")], show(rec.result)


def test_run_refuses_a_disk_fault_past_its_disk(tmp_path: Path) -> None:
    result = run_reel("run", "journal", *disk_args(blank_disks(tmp_path, 2)), "--fault", "disk1:error:lba=99999")
    assert result.returncode == 2, show(result)
    assert "fault 'disk1:error:lba=99999': disk1 has sectors 0 to 16383" in result.stderr, show(result)


def test_two_faults_that_set_one_thing_are_refused() -> None:
    """Only the last took effect, while the log's header listed both."""
    from launch.faults import FaultError, plan

    for a, b, says in (("disk0:slow:fixed:1ms", "disk0:slow:fixed:5ms", "the latency of disk0"),
                       ("disks:reorder:window=2", "disks:reorder:window=4", "the reorder window of blkreplay"),
                       ("link:cpu->ide:delay:fixed:1ms", "link:cpu->ide:delay:fixed:2ms",
                        "the delay of the link cpu->ide"),
                       ("link:ide->cpu:duplicate:every=2", "link:ide->cpu:duplicate:every=3",
                        "the duplication of the link ide->cpu")):
        with pytest.raises(FaultError, match=f"faults '{re.escape(a)}' and '{re.escape(b)}' both set {says}: "
                                             "only one can be in effect"):
            plan([a, b], 2)
    assert len(plan(["disk0:slow:fixed:1ms", "disk1:slow:fixed:1ms", "link:ide->cpu:delay:fixed:1ms",
                     "link:cpu->ide:delay:fixed:1ms"], 2)) == 4  # different disks, different directions


def test_a_topology_file_carries_its_faults(tmp_path: Path) -> None:
    from launch.topology import TopologyError, parse

    toml = """
faults = ["link:source->sink:duplicate:every=2", "actor:sink:garbage:count=3"]
[run]
seed = 4
[[actor]]
name = "source"
impl = "actors.examples.chain:Source"
params = { count = 20000, bulk_every = 0, to = "sink" }
[[actor]]
name = "sink"
impl = "actors.examples.chain:Sink"
params = { bulk_every = 0 }
[[link]]
between = ["source", "sink"]
"""
    path = tmp_path / "faulty.toml"
    path.write_text(toml)
    topology = parse(toml)
    assert topology.faults == ["link:source->sink:duplicate:every=2", "actor:sink:garbage:count=3"]
    assert topology.run.seed == 4
    result = subprocess.run(reel_command("launch", str(path), "--json"), capture_output=True, text=True,
                            timeout=60, cwd=REPO, env=_env())
    assert result.returncode == 0, result.stderr
    import json

    stats = json.loads(result.stdout)["stats"]
    assert stats["sink"]["duplicates"] > 0 and sum(stats["sink"]["malformed"].values()) == 3, stats
    with pytest.raises(TopologyError, match=r"faults\[0\]: fault 'actor:nobody:hang:message=1': the run has no actor"):
        parse(toml.replace('faults = [', 'faults = ["actor:nobody:hang:message=1", '))
    # Two faults that set one thing: refused with the file's other faults (it was a traceback from the launcher).
    path.write_text(toml.replace('faults = [', 'faults = ["link:source->sink:duplicate:every=3", '))
    result = run_reel("launch", str(path), timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert (f"reel: {path}: faults: faults 'link:source->sink:duplicate:every=3' and "
            "'link:source->sink:duplicate:every=2' both set the duplication of the link source->sink") in result.stderr


@pytest.mark.parametrize("name,spec,why", [
    ("disk0", "disk0:error:request=1", "actor 'disk0' is not a disk (its parameters take no faults or latency)"),
    ("blkreplay", "disks:reorder:window=2", "actor 'blkreplay' is not blkreplay (its parameters take no reorder)"),
])
def test_a_fault_for_an_actor_that_cannot_take_it_is_refused(name: str, spec: str, why: str) -> None:
    """An actor named like the one a fault goes to, but of another kind."""
    from launch.topology import TopologyError, parse

    toml = f"""
faults = ["{spec}"]
[[actor]]
name = "{name}"
impl = "actors.examples.echo:Echo"
"""
    with pytest.raises(TopologyError, match=re.escape(f"faults[0]: fault {spec!r}: {why}")):
        parse(toml)


@pytest.mark.parametrize("value,why", [("0", "must be from 0.1 to 86400 seconds"),
                                       ("1e9", "must be from 0.1 to 86400 seconds"),
                                       ("soon", "'soon' is not a number of seconds")])
def test_a_bad_liveness_bound_is_refused(tmp_path: Path, value: str, why: str) -> None:
    rec = record(tmp_path, "--liveness", value)
    assert rec.result.returncode == 2 and "argument --liveness: " in rec.result.stderr, show(rec.result)
    assert why in rec.result.stderr, show(rec.result)
    assert not rec.log.exists()


def test_a_crash_at_a_checkpoint_names_an_actor_that_sees_one(tmp_path: Path) -> None:
    """Only the cpu sends Checkpoints and only ide and blkreplay take them,
    and only in a run with blkreplay: elsewhere the fault could never fire,
    so it is refused up front instead of the run passing as if it had."""
    disks = blank_disks(tmp_path)
    direct = run_reel("run", "journal", *disk_args(disks), "--fault", "actor:ide:crash:checkpoint=1")
    assert direct.returncode == 2 and "never sends or takes a Checkpoint in a run without blkreplay" in direct.stderr
    log = tmp_path / "r.reel"
    recorded = run_reel("record", "journal", *disk_args(disks), "--log", str(log),
                        "--fault", "actor:disk1:crash:checkpoint=3")
    assert recorded.returncode == 2 and "actor 'disk1' never sends or takes a Checkpoint" in recorded.stderr
    assert not log.exists()


def test_a_crash_or_hang_that_never_struck_is_said_and_only_what_struck_is_blamed(tmp_path: Path) -> None:
    """journal's cpu takes about 500 machine messages: a crash planned at
    the 100000th never strikes, and the run (exit 0) said nothing of it
    while the log listed it as injected. And with a hang and a crash
    planned for one actor, the silence blamed both."""
    disks = blank_disks(tmp_path / "base")
    never = "actor:cpu:crash:message=100000"
    ran = run_reel("record", GUEST, *disk_args(disks), "--log", str(tmp_path / "a.reel"), *timing(RECORD_SEED),
                   "--fault", never, timeout=TIMEOUT)
    assert ran.returncode == 0, show(ran)
    assert re.search(rf"^reel: warning: injected fault {re.escape(never)} never struck: cpu took \d+ machine "
                     rf"messages and exited in order$", ran.stderr, re.M), show(ran)
    hang, crash = "actor:ide:hang:message=20", "actor:ide:crash:message=100000"
    run = Watched("record", GUEST, *disk_args(disks), "--log", str(tmp_path / "b.reel"), *timing(RECORD_SEED),
                  "--fault", crash, "--fault", hang, "--liveness", "1.5", target="ide")
    assert run.code == EXIT_RUN_FAILED and f"(injected fault {hang})" in run.err, str(run)

