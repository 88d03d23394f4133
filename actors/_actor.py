"""The base of every actor implementation: dispatch, lifecycle, supervision.

An actor is a deterministic state machine of the messages it receives. An
implementation subclasses ``BlockingActor`` or ``AsyncActor`` (the two
drivers), declares its parameters as a msgspec ``Params`` struct, and handles
each machine message kind ``K`` in a method ``on_k(msg, src)`` (name from
``actors.schema.handler_name``). The dispatch table is built once from the
schema: no switch over kinds anywhere.

Life of an actor process: bind the inbox, say Hello and Ready to the
launcher; on Wire connect to every peer; when every Hello has arrived, report
Connected; on Start call ``started()``; on Stop (or SIGTERM/SIGINT) call
``stopping()``, end every stream, wait until each end is acknowledged (or the
peer is lost, or ``DRAIN_SECONDS`` pass), report Exited and leave.
"""

from __future__ import annotations

import abc
import logging
import os
import signal
import time
import traceback
from typing import Any, Callable, ClassVar

import msgspec

from . import schema
from ._errors import NotConnected, ReelError, peer_of
from ._node import LAUNCHER, Node
from ._spec import ActorSpec
from .schema import (
    CONTROL_TYPES,
    Connected,
    Exited,
    Failed,
    Finished,
    Ready,
    Recent,
    RecentRequest,
    Start,
    StatsReply,
    StatsRequest,
    Stop,
    Wire,
)

DRAIN_SECONDS = 1.0
"""How long a stopping actor waits for its streams to be acknowledged."""

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_ORPHANED = 75  # the launcher vanished: leave rather than linger


class NoParams(msgspec.Struct, forbid_unknown_fields=True):
    """For actors that take no parameters."""


def dispatch_table(owner: object) -> dict[type, Callable[[Any, str], Any]]:
    """Map each message kind to ``owner``'s handler for it: ``_on_k`` for
    control kinds (the runtime's own), ``on_k`` for machine kinds."""
    table: dict[type, Callable[[Any, str], Any]] = {}
    for msg_type in schema.MESSAGE_TYPES:
        name = schema.handler_name(msg_type)
        if msg_type in CONTROL_TYPES:
            name = "_" + name
        handler = getattr(owner, name, None)
        if handler is not None:
            table[msg_type] = handler
    return table


def _only_from(actor: Actor, field: str, handler: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    """``handler``, for messages from the peer ``actor.params.<field>`` names
    alone: from anyone else, the sender's protocol error."""
    sender = getattr(actor.params, field)

    def checked(msg: Any, src: str) -> Any:
        if src != sender:
            actor.fail(f"{src!r} sent {type(msg).__name__}, which only {sender or 'no peer'!r} (params.{field}) "
                       f"sends to {actor.name!r}: a protocol error of {src!r}; not acted on")
            return None
        return handler(msg, src)
    return checked


class Actor(abc.ABC):
    """State and supervision common to both drivers."""

    Params: ClassVar[type[msgspec.Struct]] = NoParams
    SENDERS: ClassVar[dict[str, frozenset[type]]] = {}
    """Kinds that one peer alone sends this actor: the Params field naming
    that peer -> those kinds. One from another sender (a swapped-in
    component out of turn) fails the run naming both and is not acted on:
    a disk's DmaWrite to the cpu would have overwritten guest memory."""

    @classmethod
    def peers_named(cls, params: Any) -> dict[str, str]:
        """The peers these (converted) params name, by their key in params
        (``disks[0].peer``): each must be linked to this actor, which the
        topology checks before anything starts. By default, the SENDERS
        fields that name one."""
        return {field: getattr(params, field) for field in cls.SENDERS if getattr(params, field)}

    @classmethod
    def serving(cls, params: dict[str, Any]) -> type[Actor]:
        """The class that runs an actor named with this implementation and
        these parameters: itself, unless the implementation serves some
        configurations better on the other driver (it then returns a class
        with the same Params and messages). Called once, in the actor's
        process, before it is built."""
        return cls

    def __init__(self, spec: ActorSpec, node: Node) -> None:
        self.spec = spec
        self.name = spec.name
        self.node = node
        self.params: Any = msgspec.convert(spec.params, self.Params)
        self.log = logging.getLogger(spec.name)
        self.exit_code = EXIT_OK
        self.running = False  # between Start and Stop
        self._stop_reason: str | None = None  # set: the stop sequence is due
        self._lost: list[str] = []
        self._failed = False
        self._handlers = dispatch_table(self)
        for field, kinds in self.SENDERS.items():
            for kind in kinds & self._handlers.keys():
                self._handlers[kind] = _only_from(self, field, self._handlers[kind])
        self.send = node.send  # type: ignore[method-assign]  # the hot path skips a call layer

    # --- for implementations ---------------------------------------------------

    def started(self) -> None:
        """Hook: every actor is connected; begin work. A peer may already
        have sent messages (its own Start can come first): handlers must
        not assume ``started`` ran before them."""

    def stopping(self) -> None:
        """Hook: the run ends; nothing can be sent after this returns."""

    def send(self, peer: str, msg: msgspec.Struct) -> None:
        """Queue ``msg`` for ``peer``. It leaves when the actor next waits for
        input (a handler returns, ``call``, ``poll``) or at ``flush``."""
        self.node.send(peer, msg)

    def flush(self) -> None:
        """Push every queued message now, before doing something long that
        does not wait on the inbox."""
        self.node.flush()

    def finish(self, code: int = 0, reason: str = "", report: dict[str, Any] | None = None) -> None:
        """Tell the launcher that the run's work is done, with its exit code."""
        self._tell_launcher(Finished(code, reason, report or {}))

    def fail(self, reason: str, output: bool = False, peer: str = "", silent: bool = False) -> None:
        """Tell the launcher this actor cannot go on; it stops the run.
        ``output``: what failed is reel's output (a file it writes);
        ``peer``: the peer it is about (lost or stuck; ``silent``: fell
        silent past the liveness bound)."""
        if not self._failed:
            self._failed = True
            self.log.error("%s", reason)
            self._tell_launcher(Failed(reason, output, peer, silent))

    def _tell_launcher(self, msg: msgspec.Struct) -> None:
        """Send ``msg`` to the launcher, unless it is lost: this actor is
        leaving then (it said why), and has no one left to tell."""
        if not self.node.links[LAUNCHER].lost:
            self.node.send(LAUNCHER, msg)

    @property
    def stop_requested(self) -> bool:
        return self._stop_reason is not None

    # --- supervision handlers (launcher -> actor, see actors.schema) ------------

    def _on_wire(self, msg: Wire, src: str) -> None:
        for peer in sorted(msg.endpoints):
            self.node.connect(peer, msg.endpoints[peer])
        self.node.when_all_hellos(lambda: self.node.send(LAUNCHER, Connected(self.name)))

    def _on_start(self, msg: Start, src: str) -> None:
        self.running = True
        self.started()

    def _on_stop(self, msg: Stop, src: str) -> None:
        self._lost.extend(msg.lost)
        self.request_stop(msg.reason)

    def _on_stats_request(self, msg: StatsRequest, src: str) -> None:
        self.node.send(src, StatsReply(msg.token, self.node.stats()))

    def on_recent_request(self, msg: RecentRequest, src: str) -> None:
        # Any actor can say what it last exchanged: the logger asks at a divergence.
        self.send(src, Recent(self.node.recent_lines()))

    def request_stop(self, reason: str) -> None:
        """Ask the driver to run the stop sequence at its next turn."""
        if self._stop_reason is None:
            self._stop_reason = reason

    # --- the driver's building blocks ------------------------------------------

    def _introduce(self) -> None:
        spec = self.spec
        if spec.faults:  # after the driver set its push functions, before any connect
            from ._faults import install

            install(spec.faults, self.node, self.log)
            self.send = self.node.send  # type: ignore[method-assign]
        self.node.bind(spec.bind)
        self.node.connect(LAUNCHER, spec.launcher)
        self.node.send(LAUNCHER, Ready(self.name, self.node.endpoint, os.getpid()))

    def _handler_for(self, msg: msgspec.Struct, src: str) -> Callable[[Any, str], Any] | None:
        if self._stop_reason is not None and type(msg) not in CONTROL_TYPES:
            # The run is ending: late machine traffic is not acted on, nor
            # taken for a protocol error (the answer to a wait the stop cut
            # short, such as a checkpoint's Settled, has no handler).
            return None
        handler = self._handlers.get(type(msg))
        if handler is None:
            self.node.count_unhandled(msg, src)
        return handler

    def _handler_crashed(self, msg: msgspec.Struct, src: str, exc: BaseException) -> None:
        if isinstance(exc, ReelError):
            # A condition of the run (a peer lost or stuck), which says what
            # and where itself: no bug of the handler's, so no traceback.
            self.fail(f"{exc} (handling {type(msg).__name__} from {src!r})", peer=peer_of(exc))
            return
        where = traceback.extract_tb(exc.__traceback__)[-1]
        self.log.error("handler for %s from %s raised:\n%s", type(msg).__name__, src,
                       "".join(traceback.format_exception(exc)).rstrip())
        self.fail(f"{type(exc).__name__}: {exc} (handling {type(msg).__name__} from {src!r}, "
                  f"{where.filename}:{where.lineno})", peer=peer_of(exc))

    def _housekeeping(self) -> None:
        """Heartbeats, liveness and signals; called often by the driver."""
        if signalled and self._stop_reason is None:
            reason = f"{signal.Signals(signalled[0]).name} received"
            if not self._failed and self.node.links[LAUNCHER].out is not None:
                self.fail(f"actor {self.name!r} stopped by {reason}")
            self.request_stop(reason)
        for link in self.node.tick():
            if link.peer == LAUNCHER:
                self.log.error("launcher silent for %.1f s; exiting so that no orphan survives", self.node.liveness)
                self.exit_code = EXIT_ORPHANED
                self.request_stop("launcher lost")
            elif not self._stop_reason:
                self.fail(f"peer {link.peer!r} silent for more than {self.node.liveness:g} s (liveness bound)",
                          peer=link.peer, silent=True)

    def _begin_stop(self) -> float:
        """First half of the stop sequence; returns the drain deadline."""
        self.log.debug("stopping: %s", self._stop_reason)
        self.running = False
        for peer in self._lost:
            self.node.mark_lost(peer)
        try:
            self.stopping()
        except Exception as e:  # (its last work, an image's close say, may be lost: the run has failed)
            self.log.exception("stopping() raised")
            self.fail(f"stopping() raised {type(e).__name__}: {e}")
        if self.exit_code == EXIT_ORPHANED:
            self.node.mark_lost(LAUNCHER)
        self._end_streams(peers_only=True)
        return time.monotonic() + DRAIN_SECONDS

    def _end_streams(self, peers_only: bool) -> None:
        try:
            self.node.end_streams(skip=LAUNCHER if peers_only else None)
        except NotConnected as e:
            self.log.warning("while ending streams: %s", e)

    def _peers_drained(self) -> bool:
        return self.node.streams_closed(p for p in self.node.links if p != LAUNCHER)

    def _say_goodbye(self) -> None:
        """Second half: final statistics to the launcher, then its stream ends."""
        unacked = [p for p, link in self.node.links.items()
                   if p != LAUNCHER and link.out is not None and not link.closed]
        if unacked:
            self.log.warning("stream(s) to %s not acknowledged within %.1f s", ", ".join(unacked), DRAIN_SECONDS)
        launcher = self.node.links[LAUNCHER]
        if launcher.out is not None and not launcher.lost:
            try:
                self.node.send(LAUNCHER, Exited(self.node.stats()))
            except NotConnected as e:
                self.log.warning("%s", e)
            self._end_streams(peers_only=False)

    def _launcher_drained(self) -> bool:
        link = self.node.links[LAUNCHER]
        return link.lost or link.out is None or link.eos_acked

    @abc.abstractmethod
    def run(self) -> int:
        """Run the actor until its stop sequence ends; the exit code. Each
        driver (BlockingActor, AsyncActor) has its own loop."""


signalled: list[int] = []
"""The SIGTERM/SIGINT numbers this process received, in order; empty until
one comes (the drivers' hot paths look at it before calling housekeeping)."""


def install_signal_handlers() -> None:
    """SIGTERM and SIGINT ask for an orderly stop instead of killing."""

    def note(signum: int, frame: object) -> None:
        signalled.append(signum)

    signal.signal(signal.SIGTERM, note)
    signal.signal(signal.SIGINT, note)
