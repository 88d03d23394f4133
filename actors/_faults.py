"""Runtime faults: what an actor process does to itself or to its links
when the run's fault plan says so (``launch.faults`` parses the plan; the
launcher hands each actor its own share in ``ActorSpec.faults``).

One small class per kind, each applied by ``install`` through the node's
two seams, so that an actor without faults pays nothing:

* frames leaving on a link (``Node.push_factory`` / ``Node.push_bulk``):
  ``Duplicate`` pushes every N-th machine frame twice, ``Delay`` holds each
  machine frame for a drawn time before pushing it (the sender sleeps, so
  the link stays FIFO);
* frames taken from the inbox (``Node.take``): ``Crash`` SIGKILLs the
  process when it takes its N-th machine message or a ``Checkpoint`` with
  seq K (also when it sends one: the cpu makes checkpoints); ``Hang`` stops
  the whole process (no reading, no heartbeats) for T seconds or for good.

Every draw comes from a seed the plan fixed, and every trigger is a count
of machine messages or frames, which are deterministic on each link; so is
where a link fault or a crash at a Checkpoint strikes. A crash or hang at a
message count strikes at the frame that brings the count over all the
actor's links to N or past it: how the links' frames interleave is the
host's timing, so that point may move by a frame from run to run (the
recording cut there replays all the same). Control frames (heartbeats,
hello, ...) are never touched: their timing is not the machine's.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from typing import Any, Callable, Union

import msgspec


class Duplicate(msgspec.Struct, tag="duplicate", forbid_unknown_fields=True):
    """Push every ``every``-th machine frame to ``peer`` twice (bulk frames
    are never duplicated)."""

    spec: str
    peer: str
    every: int


class Delay(msgspec.Struct, tag="delay", forbid_unknown_fields=True):
    """Hold each machine frame to ``peer`` for a draw of ``latency``
    (``actors.image.latency`` grammar) from ``seed``."""

    spec: str
    peer: str
    latency: str
    seed: int = 0


class Crash(msgspec.Struct, tag="crash", forbid_unknown_fields=True):
    """SIGKILL the process at its ``message``-th machine message taken, or
    at the Checkpoint with seq ``checkpoint`` (taken or sent)."""

    spec: str
    message: int = 0
    checkpoint: int = -1


class Hang(msgspec.Struct, tag="hang", forbid_unknown_fields=True):
    """At the ``message``-th machine message taken, stop the process for
    ``seconds`` (0: for good)."""

    spec: str
    message: int
    seconds: float = 0.0


RuntimeFault = Union[Duplicate, Delay, Crash, Hang]


def install(faults: list[Any], node: Any, log: logging.Logger) -> None:
    """Apply ``faults`` to ``node``: call once the driver has set its push
    functions and before the first connect."""
    links = [f for f in faults if isinstance(f, (Duplicate, Delay))]
    triggers = [f for f in faults if isinstance(f, (Crash, Hang))]
    if links:
        _LinkFaults(links, node, log).install()
    if triggers:
        _Triggers(triggers, node, log).install()


class _LinkFaults:
    def __init__(self, faults: list[Duplicate | Delay], node: Any, log: logging.Logger) -> None:
        from .image.latency import Latency  # here: actors.image imports the runtime

        self.node, self.log = node, log
        self.duplicate = {f.peer: f for f in faults if isinstance(f, Duplicate)}
        self.delay = {f.peer: (f, Latency(f.latency, f.seed)) for f in faults if isinstance(f, Delay)}
        self.frames: dict[str, int] = {}
        self.duplicated = 0
        self.held = 0

    def install(self) -> None:
        node = self.node
        factory, push_bulk = node.push_factory, node.push_bulk

        def push_factory(link: Any) -> Callable[[bytes], object]:
            push = factory(link)
            if link.peer not in self.duplicate and link.peer not in self.delay:
                return push
            skip = len(link.frame_prefix)

            def faulty_push(frame: bytes) -> object:
                if frame[skip] == 0:  # seq 0: a control frame
                    return push(frame)
                self._hold(link.peer)
                result = push(frame)
                dup = self.duplicate.get(link.peer)
                if dup is not None:
                    count = self.frames[link.peer] = self.frames.get(link.peer, 0) + 1
                    if count % dup.every == 0:
                        self.duplicated += 1
                        node.note_struck(dup.spec)
                        if self.duplicated == 1:
                            self.log.warning("injected fault %s: pushing machine frame %d again", dup.spec, count)
                        push(frame)
                return result

            return faulty_push

        def faulty_bulk(link: Any, head: bytes, bulk: object) -> None:
            self._hold(link.peer)
            push_bulk(link, head, bulk)

        node.push_factory = push_factory
        if self.delay:
            node.push_bulk = faulty_bulk

    def _hold(self, peer: str) -> None:
        delay = self.delay.get(peer)
        if delay is not None:
            self.node.note_struck(delay[0].spec)
            if not self.held:
                self.log.warning("injected fault %s: holding each machine frame to %s", delay[0].spec, peer)
            self.held += 1
            self._sleep_alive(delay[1].draw())

    def _sleep_alive(self, seconds: float) -> None:
        """Sleep, saying Heartbeat on every open link at the node's interval,
        then tell the node it could not listen meanwhile: a delayed link
        makes frames late, not the actor silent nor its peers (one sleep of a
        second or more, or frames held back to back, outlasted the liveness
        bound, and the run stopped calling one side hung)."""
        node = self.node
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, node.heartbeat_interval))
            if end - time.monotonic() > 0:
                node.say_alive()
        node.was_deaf()


class _Triggers:
    def __init__(self, faults: list[Crash | Hang], node: Any, log: logging.Logger) -> None:
        self.node, self.log = node, log
        self.faults = list(faults)
        self.checkpoints = {f.checkpoint: f for f in faults if isinstance(f, Crash) and f.checkpoint >= 0}
        self.at_message = sorted((f for f in faults if f.message > 0), key=lambda f: f.message)

    def install(self) -> None:
        from .schema import Checkpoint

        node = self.node
        take, send = node.take, node.send
        pending = node.pending
        links = node.links

        def faulty_take(head: bytes, sock: Any) -> None:
            before = len(pending)
            take(head, sock)
            if self.checkpoints:
                for i in range(before, len(pending)):
                    msg = pending[i][0]
                    if type(msg) is Checkpoint and msg.seq in self.checkpoints:
                        self._strike(self.checkpoints[msg.seq], f"taking Checkpoint {msg.seq}")
            if self.at_message:
                taken = sum(link.recv_seq for link in links.values())
                while self.at_message and taken >= self.at_message[0].message:
                    fault = self.at_message.pop(0)
                    self._strike(fault, f"at machine message {fault.message} (taken {taken})")

        def faulty_send(peer: str, msg: Any) -> None:
            if type(msg) is Checkpoint and msg.seq in self.checkpoints:
                self._strike(self.checkpoints[msg.seq], f"sending Checkpoint {msg.seq}")
            send(peer, msg)

        node.take = faulty_take
        if self.checkpoints:
            node.send = faulty_send

    def _strike(self, fault: Crash | Hang, where: str) -> None:
        if isinstance(fault, Crash):
            self.log.error("injected fault %s: SIGKILL %s", fault.spec, where)
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(10)  # the signal is on its way
            return
        how = f"for {fault.seconds:g} s" if fault.seconds else "for good"
        self.log.error("injected fault %s: hanging %s, %s", fault.spec, how, where)
        sys.stderr.flush()
        if not fault.seconds:
            while True:
                time.sleep(3600)
        time.sleep(fault.seconds)
        now = time.monotonic()
        for link in self.node.links.values():  # the silence was ours, not the peers'
            link.heard_at = now
        self.log.warning("injected fault %s: resumed", fault.spec)
