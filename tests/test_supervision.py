"""Supervision: dead, hung, failing and interrupted actors end the run in
order, name the culprit, and leave no process behind."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from launch import EXIT_RUN_FAILED, EXIT_SIGINT, EXIT_SIGTERM, ActorConfig, LinkConfig, RunConfig, Topology, launch

from .conftest import REPO, LaunchedRun, _env, actor_processes, idle_topology, reel_command, wait_gone


def start(launched: list[LaunchedRun], topology: Path) -> LaunchedRun:
    run = LaunchedRun(topology)
    launched.append(run)
    run.wait_started()
    assert set(run.pids) == {"a", "b", "c"}
    return run


def test_kill_9_of_an_actor_stops_the_run_naming_it(launched: list[LaunchedRun], tmp_path: Path) -> None:
    run = start(launched, idle_topology(tmp_path / "idle.toml"))
    killed_at = time.monotonic()
    os.kill(run.pids["b"], signal.SIGKILL)
    code, _, err = run.finish(timeout=10)
    took = time.monotonic() - killed_at
    assert code == EXIT_RUN_FAILED
    assert f"actor 'b' (pid {run.pids['b']}) was killed by SIGKILL" in err
    assert "last lines of its stderr" in err
    assert took < 2.5, f"the launcher needed {took:.2f} s"
    wait_gone(list(run.pids.values()), 1.0)
    assert actor_processes(run.run_id) == []


def test_sigint_to_the_launcher_ends_every_process_within_2_s(launched: list[LaunchedRun], tmp_path: Path) -> None:
    run = start(launched, idle_topology(tmp_path / "idle.toml"))
    sent_at = time.monotonic()
    run.proc.send_signal(signal.SIGINT)
    everything = [run.proc.pid, *run.pids.values()]
    took = wait_gone(everything, 2.0)
    code, _, err = run.finish(timeout=1)
    assert code == EXIT_SIGINT, err
    assert "interrupted by SIGINT" in err
    assert took <= 2.0 and time.monotonic() - sent_at < 2.5
    assert actor_processes(run.run_id) == []


def test_a_sigint_that_reel_was_started_ignoring_stays_ignored(launched: list[LaunchedRun], tmp_path: Path) -> None:
    """Under nohup, or started with ``&`` by a script, reel ignores SIGINT
    (a Ctrl-C meant for the foreground): its run goes on; SIGTERM still
    stops it. Before, the launcher's handler took SIGINT over."""
    run = LaunchedRun(idle_topology(tmp_path / "idle.toml"), ignore=(signal.SIGINT,))
    launched.append(run)
    run.wait_started()
    run.proc.send_signal(signal.SIGINT)
    time.sleep(1.0)
    assert run.proc.poll() is None, "\n".join(run.lines)
    run.proc.send_signal(signal.SIGTERM)
    code, _, err = run.finish(timeout=5)
    assert code == EXIT_SIGTERM and "interrupted by SIGTERM" in err, err


def test_a_hung_actor_is_noticed_within_the_liveness_bound(launched: list[LaunchedRun], tmp_path: Path) -> None:
    run = start(launched, idle_topology(tmp_path / "idle.toml", liveness=1.0))
    stopped_at = time.monotonic()
    os.kill(run.pids["c"], signal.SIGSTOP)  # alive, but answers nothing
    code, _, err = run.finish(timeout=10)
    took = time.monotonic() - stopped_at
    assert code == EXIT_RUN_FAILED
    # The launcher or c's peer b notices first; either way c is named.
    assert "'c' silent for more than 1 s (liveness bound)" in err
    assert 1.0 <= took < 1.0 + 2.5, f"noticed after {took:.2f} s"
    wait_gone(list(run.pids.values()), 1.0)
    assert actor_processes(run.run_id) == []


def test_sigkill_of_the_launcher_takes_its_actors_along(launched: list[LaunchedRun], tmp_path: Path) -> None:
    run = start(launched, idle_topology(tmp_path / "idle.toml"))
    run.proc.kill()
    wait_gone(list(run.pids.values()), 2.0)
    assert actor_processes(run.run_id) == []


def two(impl: str, **params: object) -> Topology:
    return Topology(actor=[ActorConfig("odd", impl, dict(params)), ActorConfig("idle", "actors.examples.echo:Idle")],
                    link=[LinkConfig(("odd", "idle"))], run=RunConfig(liveness=2.0))


def test_an_exception_in_a_handler_is_reported_with_its_place() -> None:
    result = launch(two("tests.actors_for_tests:Crasher"), log_level=logging.CRITICAL, forward_stderr=False)
    assert result.code == EXIT_RUN_FAILED
    assert "actor 'odd' failed: RuntimeError: deliberate failure in started()" in result.reason
    assert "actors_for_tests.py" in result.reason
    assert set(result.stats) == {"odd", "idle"}  # both still stopped in order


def test_an_actor_that_exits_by_itself_is_reported_with_its_code() -> None:
    result = launch(two("tests.actors_for_tests:Quitter", code=3), log_level=logging.CRITICAL, forward_stderr=False)
    assert result.code == EXIT_RUN_FAILED
    assert "actor 'odd'" in result.reason and "exited with code 3" in result.reason
    for pid in result.pids.values():
        wait_gone([pid], 1.0)


def test_sigterm_to_one_actor_stops_the_run_in_order_naming_it(launched: list[LaunchedRun], tmp_path: Path) -> None:
    run = start(launched, idle_topology(tmp_path / "idle.toml"))
    os.kill(run.pids["a"], signal.SIGTERM)
    code, _, err = run.finish(timeout=10)
    assert code == EXIT_RUN_FAILED
    assert "actor 'a' failed: actor 'a' stopped by SIGTERM received" in err
    assert "did not stop" not in err  # every actor, a included, left in order
    wait_gone(list(run.pids.values()), 1.0)


def test_an_actor_waiting_for_a_reply_among_a_stream_of_other_messages_still_heartbeats() -> None:
    """A blocking wait that keeps receiving (a Ping every 5 ms, never the
    awaited Pong, for 2.5 s) never times out; its housekeeping must still
    run, or the launcher takes the waiter for hung after the 1 s bound.
    (So a cpu recording one checkpoint per disk read was taken for hung
    under load.)"""
    topology = Topology(actor=[ActorConfig("waiter", "tests.actors_for_tests:Waiter", {}),
                               ActorConfig("chatter", "tests.actors_for_tests:Chatter", {"seconds": 2.5})],
                        link=[LinkConfig(("chatter", "waiter"))], run=RunConfig(liveness=1.0))
    result = launch(topology, log_level=logging.CRITICAL, forward_stderr=False)
    assert result.code == 0, result.reason


def test_an_actor_busy_for_more_than_half_the_liveness_bound_between_turns_still_heartbeats() -> None:
    """The chatter looks at its links only every 0.6 s (its loop sleeps in
    between), under a 1 s bound. Its link to the launcher carries nothing
    but heartbeats. They went out 1.2 s apart (a heartbeat counted as said
    when the next turn saw it, not when it was sent), and the launcher took
    the chatter for hung: a disk whose requests took 1.6 s was lost under a
    3 s bound."""
    topology = Topology(actor=[ActorConfig("waiter", "tests.actors_for_tests:Waiter", {}),
                               ActorConfig("chatter", "tests.actors_for_tests:Chatter", {"seconds": 3.0, "gap": 0.6})],
                        link=[LinkConfig(("chatter", "waiter"))], run=RunConfig(liveness=1.0))
    result = launch(topology, log_level=logging.CRITICAL, forward_stderr=False)
    assert result.code == 0, result.reason


def test_a_temporary_folder_too_deep_for_unix_sockets_is_not_a_problem(tmp_path: Path) -> None:
    """ipc paths are limited to 107 bytes: the run's sockets go to /tmp then."""
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    result = subprocess.run(reel_command("run", "hello"), capture_output=True, text=True, timeout=60, cwd=REPO,
                            env={**_env(), "TMPDIR": str(deep)}, check=False)
    assert result.returncode == 0 and result.stdout == "hello from reel\n", result.stderr


def _helper_gone(pid_file: Path) -> bool:
    pid = int(pid_file.read_text())
    try:
        wait_gone([pid], 2.0)
    except AssertionError:
        return False
    return True


def test_a_process_an_actor_started_does_not_outlive_it(tmp_path: Path) -> None:
    """Whether the actor ends with the run, exits on its own, or is killed
    at the stop, what it started in its process group is killed with it."""
    for then in ("finish", "quit"):
        pid_file = tmp_path / f"{then}.pid"
        result = launch(two("tests.actors_for_tests:Forker", pid_file=str(pid_file), then=then),
                        log_level=logging.CRITICAL, forward_stderr=False)
        assert result.code == (0 if then == "finish" else EXIT_RUN_FAILED), result.reason
        assert _helper_gone(pid_file), f"{then}: the helper {pid_file.read_text()} outlived its actor"


def test_a_process_an_actor_started_dies_with_it_when_the_actor_is_killed(
        launched: list[LaunchedRun], tmp_path: Path) -> None:
    pid_file = tmp_path / "helper.pid"
    topology = tmp_path / "forker.toml"
    topology.write_text(f"""
[run]
liveness = 2.0

[[actor]]
name = "odd"
impl = "tests.actors_for_tests:Forker"
params = {{ pid_file = "{pid_file}", then = "wait" }}

[[actor]]
name = "idle"
impl = "actors.examples.echo:Idle"

[[link]]
between = ["odd", "idle"]
""")
    run = LaunchedRun(topology)
    launched.append(run)
    run.wait_started()
    deadline = time.monotonic() + 10
    while not pid_file.exists():
        assert time.monotonic() < deadline, "the helper was never started"
        time.sleep(0.02)
    os.kill(run.pids["odd"], signal.SIGKILL)
    code, _, err = run.finish(timeout=10)
    assert code == EXIT_RUN_FAILED and "actor 'odd'" in err and "killed by SIGKILL" in err
    assert _helper_gone(pid_file), "the helper outlived its killed actor"


def test_a_process_that_left_its_actors_group_is_killed_when_reel_ends(tmp_path: Path) -> None:
    """A helper in a session of its own escapes the group kill; reel, a
    child subreaper, inherits it once its actor is gone, kills it at the
    end, and says so."""
    from .conftest import run_reel

    pid_file = tmp_path / "helper.pid"
    topology = tmp_path / "setsid.toml"
    topology.write_text(f"""
[[actor]]
name = "odd"
impl = "tests.actors_for_tests:Forker"
params = {{ pid_file = "{pid_file}", then = "finish", session = true }}

[[actor]]
name = "idle"
impl = "actors.examples.echo:Idle"

[[link]]
between = ["odd", "idle"]
""")
    result = run_reel("launch", str(topology))
    assert result.returncode == 0, result.stderr
    helper = int(pid_file.read_text())
    assert _helper_gone(pid_file), f"the helper {helper} outlived reel"
    assert (f"reel: killed 1 process(es) that the run's actors left behind outside their process groups: "
            f"{helper} (sleep)") in result.stderr


def test_late_machine_traffic_while_stopping_is_dropped_without_a_protocol_warning() -> None:
    """A stop can cut a wait short (a cpu in a checkpoint): the answer it
    waited for still comes, and has no handler. Dropping it then is no
    protocol error; the same message before the stop is one (counted)."""
    from actors._node import Node
    from actors._spec import ActorSpec
    from actors.examples.echo import Idle
    from actors.schema import Pong

    actor = Idle(ActorSpec("unit", "idle", "actors.examples.echo:Idle", {}, bind="", launcher="", peers=[]),
                 Node("idle", []))
    try:
        actor._handle(Pong(1, b""), "peer")
        assert actor.node.unhandled == {"Pong": 1}
        actor.request_stop("test")
        actor._handle(Pong(2, b""), "peer")
        assert actor.node.unhandled == {"Pong": 1}
    finally:
        actor.node.close()


def test_what_a_reel_killed_with_sigkill_left_behind_is_swept_by_the_next(tmp_path: Path) -> None:
    """A recording killed with SIGKILL runs no clean-up: its working copies
    and socket folder stay. The next reel removes them (their owner lock is
    free), and leaves alone a folder whose maker is alive."""
    from launch import _scratch

    scratch = tmp_path / "t"
    scratch.mkdir()
    env = _env() | {"TMPDIR": str(scratch)}
    base = tmp_path / "base.img"
    with open(base, "wb") as f:
        f.truncate(8 << 20)
    log = tmp_path / "run.reel"
    proc = subprocess.Popen(reel_command("record", "diskqd1", "--disk", str(base), "--log", str(log)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO, env=env)
    deadline = time.monotonic() + 60
    while not (log.exists() and log.stat().st_size > 4096):  # running
        assert proc.poll() is None and time.monotonic() < deadline, "the recording ended before it was killed"
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    left = sorted(p.name for p in scratch.iterdir())
    assert any(name.startswith("reel-record-") for name in left) and len(left) >= 2, left  # the copy, the sockets
    alive = _scratch.make("held", str(scratch))  # this process is its maker: not to be swept
    try:
        run = subprocess.run(reel_command("run", "hello"), capture_output=True, text=True, cwd=REPO, env=env,
                             timeout=60)
        assert run.returncode == 0, run.stderr
        assert [p.name for p in scratch.iterdir()] == [Path(alive).name]
    finally:
        _scratch.remove(alive)
    assert list(scratch.iterdir()) == []


def test_a_sweep_judges_only_folders_this_host_made(tmp_path: Path) -> None:
    """On a folder shared between hosts, flock may be each host's own: a
    folder whose owner file names another host is never swept, even with
    its lock free; one this host made and nobody holds is."""
    import socket

    from launch import _scratch

    for name, host in (("reel-x-other", b"some-other-host"), ("reel-x-mine", socket.gethostname().encode())):
        (tmp_path / name).mkdir()
        (tmp_path / name / _scratch.OWNER).write_bytes(host)
    assert _scratch.sweep(str(tmp_path)) == [str(tmp_path / "reel-x-mine")]
    assert [p.name for p in tmp_path.iterdir()] == ["reel-x-other"]


def test_an_endpoint_that_cannot_be_bound_is_one_line_naming_it(tmp_path: Path) -> None:
    """A port another process holds: the actor says where it could not
    bind, and no traceback reaches the user."""
    import socket

    from .conftest import run_reel

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        topology = tmp_path / "t.toml"
        topology.write_text(f'[run]\ntransport = "tcp"\n'
                            f'[[actor]]\nname = "source"\nimpl = "actors.examples.chain:Source"\n'
                            f'params = {{ count = 10, to = "sink" }}\nendpoint = "tcp://127.0.0.1:{port}"\n'
                            f'[[actor]]\nname = "sink"\nimpl = "actors.examples.chain:Sink"\n'
                            f'[[link]]\nbetween = ["source", "sink"]\n')
        result = run_reel("launch", str(topology))
    assert result.returncode == 70, result.stderr
    assert f"source: cannot bind its inbox to tcp://127.0.0.1:{port}: Address already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_why_a_run_failed_is_said_once(tmp_path: Path) -> None:
    """The launcher logged the reason's first line as an error, then the
    command line printed the reason: the same words twice."""
    from .conftest import run_reel

    topology = tmp_path / "crash.toml"
    topology.write_text('[[actor]]\nname = "a"\nimpl = "tests.actors_for_tests:Crasher"\n')
    result = run_reel("launch", str(topology))
    assert result.returncode == EXIT_RUN_FAILED
    assert result.stderr.count("actor 'a' failed: RuntimeError: deliberate failure") == 1, result.stderr


def test_sigterm_while_a_recording_copies_its_disks_ends_it_cleanly(tmp_path: Path) -> None:
    """SIGTERM before any actor runs (the working copy of a large disk is
    being made) stops reel as SIGINT does: exit 143, a line saying so, the
    partial copy removed; before, the signal killed reel where it stood."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    disk = tmp_path / "dense.img"
    with open(disk, "wb") as f:  # data, not holes: every byte is copied
        chunk = bytes(range(256)) * 4096
        for _ in range(512):
            f.write(chunk)
    env = dict(_env(), TMPDIR=str(scratch))
    proc = subprocess.Popen(reel_command("record", "hello", "--disk", str(disk), "--log", str(tmp_path / "r.reel")),
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not list(scratch.glob("reel-record-*/disk0.img")) and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert "reel: terminated" in err and "Traceback" not in err, err
    assert not list(scratch.glob("reel-*")), "the working copy was left behind"
    assert not (tmp_path / "r.reel").exists()  # the log it never began is not left either


def _source_and_sink(path: Path, source_at: str = "", sink_at: str = "") -> Path:
    """A topology file: the chain's source sends 10 items to its sink, each
    actor's inbox at the endpoint given (else where the launcher puts it)."""
    def at(endpoint: str) -> str:
        return f'endpoint = "{endpoint}"\n' if endpoint else ""
    path.write_text(f'[[actor]]\nname = "source"\nimpl = "actors.examples.chain:Source"\n'
                    f'params = {{ count = 10, to = "sink" }}\n{at(source_at)}'
                    f'[[actor]]\nname = "sink"\nimpl = "actors.examples.chain:Sink"\n{at(sink_at)}'
                    f'[[link]]\nbetween = ["source", "sink"]\n')
    return path


def test_an_ipc_endpoint_another_process_listens_on_is_refused_not_taken(tmp_path: Path) -> None:
    """ZeroMQ binds an ipc path by unlinking what is there: another run's
    inbox would be stolen, and both runs fail later, each blaming a silent
    peer. The path is refused while something answers on it."""
    import socket

    from .conftest import run_reel

    path = tmp_path / "inbox"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as other:
        other.bind(str(path))
        other.listen()
        topology = _source_and_sink(tmp_path / "t.toml", source_at=f"ipc://{path}")
        result = run_reel("launch", str(topology))
        assert path.exists()  # still the other process's
    assert result.returncode == 70, result.stderr
    assert f"source: cannot bind its inbox to ipc://{path}: another process listens there" in result.stderr
    path.unlink()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as gone:
        gone.bind(str(path))  # a stale socket file that nobody listens on: bound over, as before
    result = run_reel("launch", str(topology))
    assert result.returncode == 0, result.stderr


def test_an_ipc_endpoint_naming_a_file_is_refused_and_the_file_kept(tmp_path: Path) -> None:
    """ZeroMQ binds an ipc path by unlinking what is there: an endpoint a
    typo away from a disk image deleted the image, and the run succeeded.
    Anything there but a socket is refused, by the topology's check (exit 2)
    and again by the node as it binds (the file may appear in between)."""
    from actors._errors import BindError
    from actors._node import _refuse_if_listened

    from .conftest import run_reel

    precious = tmp_path / "precious.img"
    data = bytes(range(256)) * 64
    precious.write_bytes(data)
    topology = _source_and_sink(tmp_path / "t.toml", source_at=f"ipc://{precious}")
    result = run_reel("launch", str(topology))
    assert result.returncode == 2, result.stderr
    assert (f'reel: {topology}: actor[0] ("source").endpoint: \'ipc://{precious}\': {precious} exists and is not '
            "a socket (binding there would delete it)") in result.stderr
    for path in (precious, tmp_path):  # a file, a folder
        with pytest.raises(BindError, match=f"cannot bind its inbox to ipc://{path}: {path} exists and is not a socket"):
            _refuse_if_listened("source", f"ipc://{path}")
    assert precious.read_bytes() == data


def test_a_fixed_ipc_endpoint_leaves_no_socket_file_behind(tmp_path: Path) -> None:
    from .conftest import run_reel

    inbox = tmp_path / "sink.sock"
    topology = _source_and_sink(tmp_path / "t.toml", sink_at=f"ipc://{inbox}")
    result = run_reel("launch", str(topology))
    assert result.returncode == 0, result.stderr
    assert not inbox.exists()


def test_a_spec_that_cannot_travel_starts_no_process() -> None:
    """The launcher encodes an actor's spec before it starts the process:
    before, a parameter beyond 64 bits failed the encoding with the actor
    already started, and through the Python API it lived on."""
    import psutil

    from actors._spec import ActorSpec
    from launch._spawn import ActorProcess

    spec = ActorSpec("run", "source", "actors.examples.chain:Source", {"count": 1 << 70}, "ipc:///nowhere",
                     "ipc:///nowhere-either", [])
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.raises(OverflowError):
        ActorProcess(spec)
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before


def test_an_actor_whose_launcher_is_gone_leaves_without_a_traceback() -> None:
    """Finishing or failing with the launcher lost raised NotConnected from
    inside the actor's handler, and the actor died with two tracebacks."""
    topology = Topology(actor=[ActorConfig("a", "tests.actors_for_tests:Orphan")], run=RunConfig(liveness=1.0))
    result = launch(topology, log_level=logging.WARNING)
    assert "exited with code 75" in result.reason, result.reason
    assert "Traceback" not in result.reason and "NotConnected" not in result.reason, result.reason


def test_an_actor_whose_stopping_hook_raises_fails_the_run() -> None:
    """Its traceback was logged and the run reported success (exit 0, no
    failure listed): the hook is where an actor ends its work (an image
    closes its disk), so what it did not do may be lost."""
    topology = Topology(actor=[ActorConfig("a", "tests.actors_for_tests:StopRaiser")])
    result = launch(topology, log_level=logging.WARNING)
    assert result.code == EXIT_RUN_FAILED, result.reason
    assert result.reason == ("actor 'a' failed: stopping() raised RuntimeError: deliberate failure in stopping() "
                             "(as the run stopped, after: a: done)"), result.reason


def test_an_actor_s_io_thread_runs_on_the_core_its_topology_names() -> None:
    """``io_cpu``: the actor's ZeroMQ I/O thread on another core than the
    actor itself (bench disk puts the cpu's send work beside the ide)."""
    from launch import Launcher

    from .conftest import need_host

    need_host((os.cpu_count() or 1) >= 2, "two cores, to put an I/O thread apart")
    topology = Topology(actor=[ActorConfig("a", "actors.examples.echo:Idle", cpu=0, io_cpu=1)])
    with Launcher(topology, log_level=logging.WARNING) as launcher:
        assert launcher.start()
        pid = launcher.procs["a"].pid
        cores = {}  # thread -> the cores it may run on
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/status") as f:
                status = f.read()
            name = "main" if task == str(pid) else status.split("Name:")[1].split()[0]
            cores[name] = status.split("Cpus_allowed_list:")[1].split()[0]
    assert cores["main"] == "0", cores
    assert [v for k, v in cores.items() if k.startswith("ZMQbg/IO")] == ["1"], cores


def test_a_stalled_actor_is_blamed_not_the_sender_stuck_behind_it(launched: list[LaunchedRun],
                                                                  tmp_path: Path) -> None:
    """The chain's relay stopped (SIGSTOP) while the source streams to it:
    the source, stuck in a send to the relay's full pipe, said nothing to
    anyone meanwhile, fell as silent as the relay, and was blamed in most
    runs ("actor 'source' silent"), its handler's NotConnected shown as a
    traceback. Now it heartbeats the others while it waits."""
    chain = (REPO / "launch" / "topologies" / "chain.toml").read_text()
    topology = tmp_path / "long.toml"
    topology.write_text(chain.replace("count = 10000", "count = 100000000").replace("liveness = 3.0", "liveness = 1.0"))
    for _ in range(3):
        run = LaunchedRun(topology)
        launched.append(run)
        run.wait_started()
        time.sleep(0.3)
        os.kill(run.pids["relay"], signal.SIGSTOP)
        code, _, err = run.finish(timeout=15)
        headline = next(line for line in err.splitlines() if "failed (exit" in line)
        assert code == EXIT_RUN_FAILED and "actor 'relay' silent for more than 1 s" in headline, err
        assert "Traceback" not in err, err
        wait_gone(list(run.pids.values()), 3.0)
        assert actor_processes(run.run_id) == []
