"""The local launcher: start a topology's actors, connect them, supervise
them, and stop every one of them when the run ends, fails or is interrupted.

Sequence: bind the launcher's inbox; start every actor process (spec on its
stdin); wait for each one's Ready (its inbox endpoint); send each its peers'
endpoints (Wire); wait for each one's Connected (all Hellos matched); send
Start; supervise (process exits, liveness, Finished/Failed, signals); send
Stop to all in topology order; wait up to ``STOP_GRACE`` for them to exit,
then kill what is left. No actor process outlives ``Launcher.run``.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import tempfile
import time
from typing import Any, Callable

import msgspec
import zmq

from actors import LAUNCHER, ActorSpec, CurveKeys, Node, NotConnected, PeerSpec
from actors._actor import dispatch_table
from actors._errors import HandshakeRefused, LinkGap
from actors._faults import Crash, Hang
from actors.schema import ActorStats, Connected, Exited, Failed, Finished, Ready, Start, Stop, Wire

from . import _scratch
from . import faults as fault_plan
from ._spawn import ActorProcess
from .topology import Topology, validate

EXIT_OK = 0
EXIT_USAGE = 2  # bad command line or input file
EXIT_RUN_FAILED = 70  # an actor failed, died, hung or could not connect
EXIT_OUTPUT = 74  # reel's output (standard output, a replay log) could not be written: sysexits' EX_IOERR
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

STOP_GRACE = 1.5
"""Seconds between Stop and SIGKILL for actors that have not exited."""
TURN_MS = 20
PROCESS_CHECK_SECONDS = 0.05


class RunResult(msgspec.Struct):
    """How a run ended. ``code`` is the exit code ``reel`` returns."""

    code: int
    reason: str
    finished_by: str = ""
    report: dict[str, Any] = {}
    stats: dict[str, ActorStats] = {}
    failures: list[str] = []
    seconds: float = 0.0
    run_seconds: float = 0.0  # from Start to the end: the actors' startup and stop left out
    pids: dict[str, int] = {}
    unstruck: list[str] = []  # planned faults that never struck, each with why (faults.unstruck)


class Launcher:
    """Runs one topology once. Use ``run()``, or ``start()`` then ``wait()``
    inside ``with`` so that nothing survives an exception."""

    def __init__(self, topology: Topology, *, log_level: int = logging.INFO, forward_stderr: bool = True,
                 origin: str = "<topology>", actors_stdout: int | None = None) -> None:
        validate(topology, origin)
        self.topology = topology
        self.faults = fault_plan.for_run(topology.faults, topology)
        self.run_id = secrets.token_hex(4)
        self.log = logging.getLogger(LAUNCHER)
        self.log_level = log_level
        self.forward_stderr = forward_stderr
        self.actors_stdout = actors_stdout  # a file descriptor for the actors' stdout (None: the launcher's)
        self.tcp = topology.run.transport == "tcp"
        self.curve = CurveKeys(*(k.decode() for k in zmq.curve_keypair())) if self.tcp else None
        self.run_dir = _run_dir(self.run_id, max((len(a.name) for a in topology.actor), default=0))
        self.node = Node(LAUNCHER, [(a.name, False) for a in topology.actor], liveness=topology.run.liveness,
                         curve=self.curve, check_schema=False, log=self.log)
        self.procs: dict[str, ActorProcess] = {}
        self.endpoints: dict[str, str] = {}
        self._ready: set[str] = set()
        self._connected: set[str] = set()
        self._stats: dict[str, ActorStats] = {}
        self._outcome: RunResult | None = None
        self._failures: list[str] = []
        self._stopping = False
        self._signal: int | None = None
        self._started_at = time.monotonic()
        self._running_since: float | None = None  # when Start went out
        self._next_process_check = 0.0
        self._handlers = dispatch_table(self)

    # --- public --------------------------------------------------------------

    def run(self) -> RunResult:
        with self:
            if self.start():
                self.wait()
        return self.result()

    def start(self) -> bool:
        """Start and connect every actor, then send Start. False when the run
        ended already (an actor failed to start or connect)."""
        self.node.bind("tcp://127.0.0.1:0" if self.tcp else f"ipc://{self.run_dir}/{LAUNCHER}")
        self.node.inbox.setsockopt(zmq.RCVTIMEO, TURN_MS)
        for actor in self.topology.actor:
            self.procs[actor.name] = ActorProcess(self._spec_for(actor.name), forward_stderr=self.forward_stderr,
                                                  stdout=self.actors_stdout)
        deadline = time.monotonic() + self.topology.run.startup_timeout
        if not self._serve_until(lambda: len(self._ready) == len(self.procs), deadline, "ready"):
            return False
        for actor in self.topology.actor:
            peers = {peer: self.endpoints[peer] for peer, _ in self.topology.peers_of(actor.name)}
            self.node.send(actor.name, Wire(peers))
        if not self._serve_until(lambda: len(self._connected) == len(self.procs), deadline, "connected"):
            return False
        self._running_since = time.monotonic()
        for actor in self.topology.actor:
            self.node.send(actor.name, Start())
        self._push_garbage()
        self.log.debug("run %s started: %s", self.run_id, ", ".join(f"{n} (pid {p.pid})" for n, p in self.procs.items()))
        return True

    def wait(self, timeout: float | None = None) -> RunResult:
        """Supervise until the run ends (or ``timeout`` passes: then it is
        stopped as failed), stop every actor, and return the result."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._outcome is None:
            self._turn()
            if deadline is not None and time.monotonic() > deadline:
                self._end(EXIT_RUN_FAILED, f"run did not end within {timeout:g} s")
        self._stop_all()
        return self.result()

    def interrupt(self, signum: int) -> None:
        """Signal-handler safe: ask for the run to stop at the next turn."""
        self._signal = signum

    def result(self) -> RunResult:
        assert self._outcome is not None, "the run has not ended"
        out = self._outcome
        out.stats = {a.name: self._stats[a.name] for a in self.topology.actor if a.name in self._stats}
        out.failures = list(self._failures)
        out.seconds = time.monotonic() - self._started_at
        out.pids = {name: p.pid for name, p in self.procs.items()}
        out.unstruck = fault_plan.unstruck(self.faults, out.stats)
        return out

    def __enter__(self) -> Launcher:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._outcome is None:
            self._end(EXIT_RUN_FAILED, "the launcher was left early")
        if not self._stopping:
            self._stop_all()

    # --- the supervision loop --------------------------------------------------

    def _serve_until(self, done: Callable[[], bool], deadline: float, what: str) -> bool:
        while self._outcome is None and not done():
            self._turn()
            if time.monotonic() > deadline:
                missing = [n for n in self.procs if n not in (self._ready if what == "ready" else self._connected)]
                self._end(EXIT_RUN_FAILED, f"actor(s) not {what} within {self.topology.run.startup_timeout:g} s: "
                          + ", ".join(missing))
        return self._outcome is None

    def _turn(self) -> None:
        """One step: a message (or a short wait), processes, liveness, signals."""
        try:
            if self.node.receive():
                while (item := self.node.next()) is not None:
                    self._dispatch(*item)
        except (LinkGap, HandshakeRefused) as e:
            self._end(EXIT_RUN_FAILED, str(e))
        now = time.monotonic()
        if now >= self._next_process_check:
            self._next_process_check = now + PROCESS_CHECK_SECONDS
            self._check_processes()
        for link in self.node.tick():
            if not self._stopping:
                self._end(EXIT_RUN_FAILED,
                          f"actor {link.peer!r} silent for more than {self.node.liveness:g} s (liveness bound); "
                          f"it is hung or unreachable{fault_plan.blame(self.faults, link.peer, (Hang,))}")
        if self._signal is not None and not self._stopping and self._outcome is None:
            name = signal.Signals(self._signal).name
            self._end(EXIT_SIGINT if self._signal == signal.SIGINT else EXIT_SIGTERM, f"interrupted by {name}")

    def _dispatch(self, msg: msgspec.Struct, src: str) -> None:
        handler = self._handlers.get(type(msg))
        if handler is None:
            self.node.count_unhandled(msg, src)
        else:
            handler(msg, src)

    def _check_processes(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is None or self._stopping:
                continue
            if name in self._stats:
                continue  # it said Exited first: an orderly exit
            self.node.mark_lost(name)
            injected = fault_plan.blame(self.faults, name, (Crash,)) if proc.popen.returncode == -signal.SIGKILL else ""
            self._end(EXIT_RUN_FAILED, f"actor {name!r} (pid {proc.pid}) {proc.describe_exit()}{injected}; "
                      f"last lines of its stderr:\n{proc.last_lines()}")

    def _end(self, code: int, reason: str, finished_by: str = "", report: dict[str, Any] | None = None) -> None:
        """Record how the run ends; later failures are kept as secondary."""
        if self._outcome is None:
            ran = time.monotonic() - self._running_since if self._running_since is not None else 0.0
            self._outcome = RunResult(code, reason, finished_by, report or {}, run_seconds=ran)
            # At debug level, and the first line only: the reason is the
            # result's, which the command line prints whole once the run has
            # stopped (a divergence report runs to 100+ lines); logged as an
            # error too, its first line came twice.
            head, _, rest = reason.partition("\n")
            more = f" [+{rest.count(chr(10)) + 1} lines]" if rest else ""
            self.log.debug("run ends (exit %d): %s%s", code, head, more)
        elif code != EXIT_OK:
            self._failures.append(reason)

    # --- supervision handlers (actor -> launcher, see actors.schema) ------------

    def _on_ready(self, msg: Ready, src: str) -> None:
        self.endpoints[src] = msg.endpoint
        self.node.connect(src, msg.endpoint)
        self._ready.add(src)

    def _on_connected(self, msg: Connected, src: str) -> None:
        self._connected.add(src)

    def _on_finished(self, msg: Finished, src: str) -> None:
        self._end(msg.code, f"{src}: {msg.reason}" if msg.reason else f"{src} finished", src, msg.report)

    def _on_failed(self, msg: Failed, src: str) -> None:
        # A peer that noticed an injected hang or crash first: name the fault too.
        if msg.silent:
            # Said as the launcher says it when it notices first: the news is the silent actor, not its peer.
            reason = (f"actor {msg.peer!r} silent for more than {self.node.liveness:g} s (liveness bound); it is "
                      f"hung or unreachable{fault_plan.blame(self.faults, msg.peer, (Hang,))} (noticed by {src!r})")
        else:
            injected = fault_plan.blame(self.faults, msg.peer) if msg.peer else ""
            reason = f"actor {src!r} failed: {msg.reason}{injected}"
        code = EXIT_OUTPUT if msg.output else EXIT_RUN_FAILED
        done = self._outcome
        if done is not None and done.code == EXIT_OK:
            # An actor failing as the run stops (its stopping hook raised:
            # an image's close, say) fails a run that had succeeded.
            done.code, done.reason = code, f"{reason} (as the run stopped, after: {done.reason})"
            return
        self._end(code, reason)

    def _on_exited(self, msg: Exited, src: str) -> None:
        self._stats[src] = msg.stats
        if not self._stopping:
            self._end(EXIT_RUN_FAILED, f"actor {src!r} exited before the run ended")

    def _push_garbage(self) -> None:
        """Garbage faults: frames of seeded random bytes into an actor's
        inbox, from a socket of no link (the actor counts them as malformed)."""
        for fault in self.faults:
            if not fault.garbage:
                continue
            sock = self.node.ctx.socket(zmq.PUSH)
            if self.curve is not None:
                sock.curve_serverkey = self.curve.public.encode()
                sock.curve_publickey = self.curve.public.encode()
                sock.curve_secretkey = self.curve.secret.encode()
            sock.connect(self.endpoints[fault.actor])
            for frame in fault_plan.garbage_frames(fault, self.topology.run.seed):
                sock.send(frame)
            sock.close(linger=int(self.node.liveness * 1000))
            self.log.debug("injected fault %s: %d garbage frames pushed", fault.spec, fault.garbage)

    # --- stopping --------------------------------------------------------------

    def _stop_all(self) -> None:
        self._stopping = True
        reason = self._outcome.reason if self._outcome else "stopped"
        lost = [n for n, p in self.procs.items() if p.poll() is not None or self.node.links[n].lost]
        for actor in self.topology.actor:
            proc = self.procs.get(actor.name)
            if proc is None or proc.poll() is not None:
                continue
            try:
                self.node.send(actor.name, Stop(reason.splitlines()[0], lost))
            except NotConnected:
                proc.terminate()  # never connected: its own handler stops it
        deadline = time.monotonic() + STOP_GRACE
        while any(p.poll() is None for p in self.procs.values()) and time.monotonic() < deadline:
            self._turn()
        for name, proc in self.procs.items():
            if proc.poll() is None:
                proc.kill()
                self._failures.append(f"actor {name!r} did not stop within {STOP_GRACE:g} s; killed")
            proc.popen.wait()
        for name in self.procs:
            # Every actor is gone: nothing still queued for one can arrive, so
            # closing must not linger on it (heartbeats sent during a long stop).
            self.node.mark_lost(name)
        self.node.close()
        _scratch.remove(self.run_dir)

    def _spec_for(self, name: str) -> ActorSpec:
        actor = self.topology.actor_named(name)
        bind = actor.endpoint or ("tcp://127.0.0.1:0" if self.tcp else f"ipc://{self.run_dir}/{name}")
        return ActorSpec(
            run_id=self.run_id,
            name=name,
            impl=actor.impl,
            params=fault_plan.actor_params(self.faults, name, actor.params),
            bind=bind,
            launcher=self.node.endpoint,
            peers=[PeerSpec(peer, digest) for peer, digest in self.topology.peers_of(name)],
            liveness=self.topology.run.liveness,
            cpu=actor.cpu,
            io_cpu=actor.io_cpu,
            log_level=self.log_level,
            curve=self.curve,
            parent_pid=os.getpid(),
            faults=fault_plan.runtime_for(self.faults, name),
            spin=self.topology.run.spin_us / 1e6,
        )


class LaunchError(Exception):
    """The run cannot start on this host; the message says why."""


IPC_PATH_MAX = 107
"""The longest path a unix socket may have here (sun_path, less its NUL)."""


def _run_dir(run_id: str, longest_name: int) -> str:
    """A fresh folder for the run's ipc sockets: in the temporary folder
    ($TMPDIR) if its sockets' paths fit a unix socket's limit, else in /tmp."""
    for parent in (None, "/tmp"):
        try:
            folder = _scratch.make(run_id, parent)
        except OSError as e:
            raise LaunchError(f"cannot make a folder for the run's sockets in {parent or tempfile.gettempdir()!r}: "
                              f"{e.strerror}") from None
        if len(os.fsencode(folder)) + 1 + max(longest_name, len(LAUNCHER)) <= IPC_PATH_MAX:
            return folder
        _scratch.remove(folder)
    raise LaunchError(f"no folder for the run's sockets: paths under {tempfile.gettempdir()!r} and /tmp exceed "
                      f"{IPC_PATH_MAX} bytes, a unix socket's limit (set TMPDIR to a shorter folder)")


def launch(topology: Topology, **kwargs: Any) -> RunResult:
    """Run ``topology`` to its end; the result."""
    return Launcher(topology, **kwargs).run()
