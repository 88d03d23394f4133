"""The blocking driver: one thread waits on the inbox socket itself.

For the latency-critical path. ``call`` sends a request and waits for its
reply while serving everything else that arrives meanwhile (a CPU waiting for
an MMIO read serves the device's DMA requests). Long-running handlers call
``poll`` now and then so that heartbeats flow and Stop is seen.
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

import msgspec
import zmq

from ._actor import Actor, signalled
from ._errors import ActorStopped, HandshakeRefused, LinkGap, NotConnected
from .schema import CONTROL_TYPES

T = TypeVar("T", bound=msgspec.Struct)

WAKE_MS = 20
"""The inbox wait is cut this often for housekeeping when nothing arrives."""


class BlockingActor(Actor):
    """An actor whose handlers run on the thread that reads the inbox."""

    def run(self) -> int:
        self._introduce()
        self.node.inbox.setsockopt(zmq.RCVTIMEO, WAKE_MS)
        while self._stop_reason is None:
            self._serve(block=True)
        deadline = self._begin_stop()
        self._serve_until(self._peers_drained, deadline)
        self._say_goodbye()
        self._serve_until(self._launcher_drained, time.monotonic() + DRAIN_LAUNCHER)
        self.node.close()
        return self.exit_code

    def poll(self) -> None:
        """Serve whatever is waiting in the inbox without blocking. Raises
        ``ActorStopped`` once the run is being stopped."""
        self._serve(block=False)
        if self._stop_reason is not None:
            raise ActorStopped(self._stop_reason)

    def wait(self, until: float | None = None) -> None:
        """Block until something arrives, handle it (and whatever else its
        frame held), then return; or return at ``until`` (a time.monotonic
        time, met within WAKE_MS) if nothing has. Raises ``ActorStopped``
        once the run is being stopped."""
        node = self.node
        while not node.pending:
            try:
                if not node.receive():
                    self._housekeeping()  # (after a frame, _serve below does it)
            except (LinkGap, HandshakeRefused) as e:
                self.fail(str(e))
            if self._stop_reason is not None:
                raise ActorStopped(self._stop_reason)
            if until is not None and not node.pending and time.monotonic() >= until:
                return
        self._serve(block=False)
        if self._stop_reason is not None:
            raise ActorStopped(self._stop_reason)

    def call(self, peer: str, msg: msgspec.Struct, reply_type: type[T]) -> T:
        """Send ``msg`` to ``peer`` and return its first ``reply_type`` message,
        serving other messages while waiting. Raises ``ActorStopped`` when the
        run is stopped meanwhile, ``NotConnected`` when the peer is lost. A
        peer that lives on but does not answer within TAKE_FIRST_LIVENESSES
        liveness bounds fails this actor, naming both (a request is answered
        at once; without a bound, a peer that never answers hung the run)."""
        self.node.send(peer, msg)
        return self.wait_for(peer, reply_type, TAKE_FIRST_LIVENESSES * self.node.liveness, type(msg).__name__)

    def wait_for(self, peer: str, reply_type: type[T], bound: float | None = None, asked: str = "") -> T:
        """Serve the inbox until ``peer`` sends a ``reply_type`` message (for
        at most ``bound`` seconds, if given, before failing over ``asked``)."""
        node = self.node
        pending = node.pending
        monotonic = time.monotonic
        give_up = None if bound is None else monotonic() + bound
        while True:
            try:
                if not pending:
                    # Housekeeping after any frame once due, not only after a
                    # quiet WAKE_MS: an actor that waits again and again, each
                    # time briefly (a cpu recording one checkpoint per disk
                    # read), would otherwise send no heartbeat for seconds and
                    # be taken for hung. Asking whether it is due here, and not
                    # in a call, spares the round trip's hot path a call.
                    if not node.receive():
                        self._waited_in_vain(peer, reply_type)
                        if give_up is not None and monotonic() >= give_up:
                            self.fail(f"{self.name}: {peer!r} sent no {reply_type.__name__} for its {asked} within "
                                      f"{bound:g} s")
                            give_up = None  # the launcher stops the run: wait for its Stop
                    elif signalled or monotonic() >= node.next_tick:
                        self._housekeeping()
                    continue
                msg, src = pending.popleft()
                if type(msg) is reply_type and src == peer:
                    return msg
                if type(msg) not in CONTROL_TYPES or not node.handle_control(msg, src):
                    self._handle(msg, src)
            except (LinkGap, HandshakeRefused) as e:
                self.fail(str(e))
            if self._stop_reason is not None:
                raise ActorStopped(self._stop_reason)

    def take_first(self, wanted: Callable[[msgspec.Struct, str], bool], what: str) -> tuple[msgspec.Struct, str]:
        """Take the first ``(message, sender)`` that ``wanted`` accepts, out
        of turn: for a handler that cannot finish without one message that
        may still be on its way. Meanwhile only control messages are
        handled (Stop, heartbeats); every other message stays pending, in
        order, for the driver to serve after the handler returns. Raises
        ``ActorStopped`` once the run is being stopped; fails the actor,
        naming ``what`` it waits for, if nothing comes for
        ``TAKE_FIRST_LIVENESSES`` liveness bounds (its peers may all be
        alive: then only a protocol slip can explain the wait)."""
        node = self.node
        pending = node.pending
        give_up = time.monotonic() + TAKE_FIRST_LIVENESSES * node.liveness
        while True:
            for index, (msg, src) in enumerate(pending):
                if type(msg) not in CONTROL_TYPES and wanted(msg, src):
                    del pending[index]
                    return msg, src
            for item in [item for item in pending if type(item[0]) in CONTROL_TYPES]:
                pending.remove(item)
                if not node.handle_control(*item):
                    self._handle(*item)
            if self._stop_reason is not None:
                raise ActorStopped(self._stop_reason)
            if time.monotonic() >= give_up:
                self.fail(f"{self.name}: waited {TAKE_FIRST_LIVENESSES * node.liveness:g} s for {what}, "
                          "which did not come")
                give_up = float("inf")  # the launcher stops the run: wait for its Stop
            try:
                if not node.receive() or signalled or time.monotonic() >= node.next_tick:
                    self._housekeeping()
            except (LinkGap, HandshakeRefused) as e:
                self.fail(str(e))

    def _waited_in_vain(self, peer: str, reply_type: type) -> None:
        """A receive timed out while waiting for a reply: housekeeping, and
        give up if the peer is gone."""
        self._housekeeping()
        if self.node.links[peer].lost:
            raise NotConnected(f"{self.name}: peer {peer!r} was lost while waiting for its {reply_type.__name__}",
                               peer)

    # --- internals -----------------------------------------------------------

    def _serve(self, block: bool) -> None:
        """Handle what is in the inbox, then do housekeeping.

        Blocking: wait up to WAKE_MS for a frame and keep taking frames with
        blocking receives (they return at once while frames wait) until the
        inbox stays quiet or housekeeping is due. Non-blocking: take what is
        there now. An empty non-blocking receive costs a system call and an
        exception (about 6 us here), so the blocking path never makes one.
        """
        node = self.node
        pending = node.pending
        flags = 0 if block else zmq.NOBLOCK
        due = time.monotonic() + HOUSEKEEPING_SECONDS
        while True:
            try:
                if not pending:
                    if not node.receive(flags):
                        break
                    continue
                msg, src = pending.popleft()
                if type(msg) in CONTROL_TYPES and node.handle_control(msg, src):
                    continue
            except (LinkGap, HandshakeRefused) as e:
                self.fail(str(e))
                continue
            self._handle(msg, src)
            if self._stop_reason is not None or time.monotonic() >= due:
                break
        if not block:
            node.flush()
        self._housekeeping()

    def _handle(self, msg: msgspec.Struct, src: str) -> None:
        handler = self._handlers.get(type(msg))
        if handler is None or self._stop_reason is not None:
            handler = self._handler_for(msg, src)
            if handler is None:
                return
        try:
            handler(msg, src)
        except ActorStopped:
            pass  # the main loop runs the stop sequence
        except Exception as exc:
            self._handler_crashed(msg, src, exc)

    def _serve_until(self, done: Callable[[], bool], deadline: float) -> None:
        while not done() and time.monotonic() < deadline:
            self._serve(block=True)


TAKE_FIRST_LIVENESSES = 3
"""How many liveness bounds ``take_first`` waits before it fails the actor."""
HOUSEKEEPING_SECONDS = 0.01
"""Longest stretch of message handling between two housekeeping passes."""
DRAIN_LAUNCHER = 0.3
"""How long to wait for the launcher to acknowledge the final Exited."""
