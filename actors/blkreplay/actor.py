"""blkreplay: the filter between the ide and the disks that makes block
completions deterministic (QEMU's block/blkreplay.c, over processes).

Requests from the ide get ids in submission order, one counter for all
drives, and go on to the drive's image actor; a request whose byte range
overlaps an earlier one still in flight (or still waiting) on the same
drive waits for it, so that what the guest reads depends on nothing but
the log. Replaying, a request also waits until the logger has said how it
ended when recording: one that failed then fails again without reaching
the disk, so the disk's content stays what the recording's was.
Completions never go straight to the ide:

* recording, they are queued in the order the disks answer, and the cpu is
  told (EventsPending); at the next checkpoint (which reaches us through
  the ide, after everything the ide had to send us) the queue is handed to
  the ide in that order, and the ide reports it to the logger (Settle,
  then Recorded);
* replaying, the logger says beforehand which ids each checkpoint delivers
  (Expect); at the checkpoint they are handed over in that order, with the
  recorded status (an I/O error seen when recording is seen again), waiting
  for late ones and holding early ones. Waiting past the bound is reported
  with what is awaited and what is in flight, never a silent hang.

An injected reorder fault (``reorder``) stands between the disks and all
of this: completions reach it as the disks answer and go on in groups.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Literal

import msgspec

from .._blocking import BlockingActor
from ..schema import (
    BlockCompletion,
    BlockRequest,
    Checkpoint,
    CheckpointDigest,
    Drain,
    Drained,
    EventsPending,
    Expect,
    Patience,
    ReplayBackendFailed,
    ReplayDiverged,
    ReplayStuck,
    Settle,
    sealed,
    wrong_status,
)
from .reorder import CompletionReorder, ReorderWindow


@dataclass
class Request:
    id: int
    tag: int  # the ide's name for it
    disk: int
    op: str
    offset: int
    length: int
    data: bytes
    issued: bool = False

    def overlaps(self, other: Request) -> bool:
        """Must wait for ``other``: same drive, and a byte in common (a flush
        orders itself against everything on its drive)."""
        if self.disk != other.disk:
            return False
        if "flush" in (self.op, other.op):
            return True
        return self.offset < other.offset + other.length and other.offset < self.offset + self.length


class BlkReplay(BlockingActor):
    class Params(msgspec.Struct, forbid_unknown_fields=True):
        mode: Literal["record", "replay"]
        disks: list[str]  # image peer of each drive slot
        ide: str = "ide"
        cpu: str = "cpu"
        logger: str = "logger"
        wait_bound: float = 10.0  # seconds a replay waits for a completion before saying so
        digest_every: int = 64  # checkpoints between the digests the logger wants of this actor
        reorder: CompletionReorder | None = None  # an injected fault: completions go on in seeded groups

        def __post_init__(self) -> None:
            # Overlapping requests are ordered per drive slot (Request.overlaps):
            # two slots on one image could reorder writes to the same bytes.
            twice = sorted({d for d in self.disks if self.disks.count(d) > 1})
            if twice:
                raise ValueError(f"disks name {', '.join(map(repr, twice))} more than once: each drive slot "
                                 "needs an image actor of its own")

    SENDERS = {"ide": frozenset({BlockRequest, Checkpoint, Drain}), "cpu": frozenset({Patience}),
               "logger": frozenset({Expect})}

    @classmethod
    def peers_named(cls, params: BlkReplay.Params) -> dict[str, str]:
        return {**super().peers_named(params), **{f"disks[{i}]": disk for i, disk in enumerate(params.disks)}}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.next_id = 0
        self.requests: dict[int, Request] = {}  # not yet delivered, in submission order
        self.waiting: list[Request] = []  # not yet issued (an overlap, or an unknown fate), in submission order
        self.queue: list[BlockCompletion] = []  # recording: completions in arrival order
        self.told_cpu = False
        self.next_seq = 0  # recording: the checkpoint the queue will go to
        self.armed: Checkpoint | None = None  # recording: a checkpoint waiting for its first completion
        self.armed_until: float | None = None  # ... until then (time.monotonic), if it is patient only so long
        self.patience: dict[int, float] = {}  # recording: Patience that came before its checkpoint
        self.arrived: dict[int, BlockCompletion] = {}  # replaying: completions not yet delivered
        self.expected: dict[int, list[tuple[int, int]]] = {}
        # Replaying: each request's recorded status, known from the Expects;
        # every request not listed succeeds once ``fates_open`` (the log
        # delivers nothing more).
        self.fates: dict[int, int] = {}
        self.fates_open = self.params.mode == "record"
        self.log_ended = False  # replaying: the log's last Expect came (it lists every request the recording made)
        self.expected_max = -1  # replaying: the highest request id an Expect named
        self.reporting_new = False  # a request the recording never made has been reported
        self.due: tuple[int, int, float] | None = None  # replaying: (seq, icount, since) of a checkpoint waiting
        self.drain_for: str | None = None  # the peer whose Drain waits for requests still held here
        self.draining: set[str] = set()  # the disks a Drain went to that have not answered it
        reorder = self.params.reorder
        self.reorder = ReorderWindow(reorder, self.log.warning, self.node.note_struck) if reorder is not None else None

    # --- requests ---------------------------------------------------------------

    def on_block_request(self, msg: BlockRequest, src: str) -> None:
        request = Request(self.next_id, msg.id, msg.disk, msg.op, msg.offset, msg.length, bytes(msg.data))
        self.next_id += 1
        self.requests[request.id] = request
        self.waiting.append(request)
        if self.log_ended:
            self._made_by_the_recording(request.id)
        self._issue_waiting()

    def _made_by_the_recording(self, request_id: int) -> None:
        """Replaying, once the log has no more Expects: each request the
        recording made is listed in one (delivered at a checkpoint, or left
        undelivered at the end), so one with no fate left is new. Said at
        once: no checkpoint comes to show it, and the guest would wait for
        it, or poll it, up to the recording's exit (a log edited to hold no
        checkpoint took 105 s to say diverged)."""
        if request_id in self.fates or self.reporting_new:
            return
        self.reporting_new = True
        held = f"requests 0 to {self.expected_max}" if self.expected_max >= 0 else "no request"
        self.send(self.params.logger, ReplayDiverged(
            f"the guest made request {request_id}, which the log neither delivers nor leaves undelivered (it holds "
            f"{held}): the recording never made it, or its disks never finished it"))

    def _issue_waiting(self) -> None:
        """Issue every waiting request that may go, in submission order. One
        may go once its fate is known (replaying: a request that failed when
        recording fails again without reaching the disk, so the disk's
        content stays what it was), no earlier request overlapping it is
        still in flight or waiting, and no earlier request of its disk waits
        for such an overlap.

        That last rule keeps each disk's requests in submission order: a
        disk numbers its requests as they come, and a plan's fault names
        one by its number (``disk0:error:request=3``). A request that went
        past one held for an overlap took its number whenever the overlapped
        one was slow, and the plan failed another request."""
        still: list[Request] = []
        held: set[int] = set()  # the disks with a request held for an overlap (not for its fate)
        for request in self.waiting:
            fate = self.fates.get(request.id, 0 if self.fates_open else None)
            blocked = request.disk in held or any(r.overlaps(request) for r in still) or any(
                r.issued and r.overlaps(request) for r in self.requests.values() if r is not request)
            if blocked:
                held.add(request.disk)
            if fate is None or blocked:
                still.append(request)
                continue
            self.fates.pop(request.id, None)
            if fate:
                self.arrived[request.id] = BlockCompletion(request.id, fate, b"", "recorded failure")
                request.data = b""
            else:
                self._issue(request)
        self.waiting = still
        self._pass_drain_on()

    def _issue(self, request: Request) -> None:
        request.issued = True
        self.send(self.params.disks[request.disk],
                  BlockRequest(request.id, request.op, request.offset, request.length, request.data))
        request.data = b""

    def on_drain(self, msg: Drain, src: str) -> None:
        """Pass the Drain on to every disk once no request waits here (the
        guest's last ones may still wait for an overlap or their fate)."""
        self.drain_for = src
        self._pass_drain_on()

    def _pass_drain_on(self) -> None:
        if self.drain_for is None or self.waiting or self.draining:
            return  # no Drain, requests still held, or passed on already
        self.draining = set(self.params.disks)
        for disk in sorted(self.draining):
            self.send(disk, Drain())
        self._drained_if_done()

    def on_drained(self, msg: Drained, src: str) -> None:
        if src in self.draining:
            self.draining.discard(src)
            self._drained_if_done()

    def _drained_if_done(self) -> None:
        """Every disk answered the Drain: every completion is in. Recording,
        those no checkpoint delivered go up with the answer (Drained)."""
        if not self.draining and self.drain_for is not None:
            undelivered = [(c.id, c.status) for c in self.queue] if self.params.mode == "record" else []
            self.send(self.drain_for, Drained(undelivered))
            self.drain_for = None

    def on_block_completion(self, msg: BlockCompletion, src: str) -> None:
        request = self.requests.get(msg.id)
        if request is None or not request.issued or (self.reorder is not None and self.reorder.holds(msg.id)):
            self.log.warning("completion for unknown request %d from %s; dropped", msg.id, src)
            return
        if wrong := wrong_status(msg, src):
            self.fail(wrong)  # (it could be neither logged nor given to the guest)
            return
        if self.reorder is None:
            self._arrive([msg])
        else:
            self._arrive(self.reorder.take(msg, sum(r.issued for r in self.requests.values())))

    def _arrive(self, completions: list[BlockCompletion]) -> None:
        """Completions back from the disks, in the order they came (or that
        the reorder fault gave them)."""
        if not completions:
            return
        for completion in completions:
            self.requests[completion.id].issued = False  # answered: no longer in flight at the disk
        if self.waiting:
            self._issue_waiting()
        if self.params.mode == "record":
            self.queue += completions
            if self.armed is not None:
                self._deliver_queue(self.armed)
            elif not self.told_cpu:
                self.told_cpu = True
                self.send(self.params.cpu, EventsPending(self.next_seq))
        else:
            self.arrived.update((c.id, c) for c in completions)
            if self.due is not None:
                self._deliver_expected()

    # --- checkpoints ---------------------------------------------------------------

    def on_checkpoint(self, msg: Checkpoint, src: str) -> None:
        if self.params.mode == "record":
            self.next_seq = msg.seq + 1
            if self.queue or not (self.waiting or any(r.issued for r in self.requests.values())):
                # Queued completions go now; and with none to come, the
                # checkpoint settles empty: what the guest gets then is the
                # ide's own doing (a command that ended at once), which the
                # ide handed the cpu before this.
                self._deliver_queue(msg)
            else:
                # Nothing queued, something in flight: a cpu idling in wfi,
                # or one the ide asked to checkpoint for what it held. It
                # waits for the first completion (and so need not be told):
                # a recorded fact like any other. A cpu whose timer is
                # armed waits only so long: then it settles empty, and that
                # no completion came first is the recorded fact.
                self.armed = msg
                self._be_patient(self.patience.pop(msg.seq, None))
        else:
            self.due = (msg.seq, msg.icount, time.monotonic())
            self._deliver_expected()

    def on_patience(self, msg: Patience, src: str) -> None:
        if self.armed is not None and self.armed.seq == msg.seq:
            self._be_patient(msg.seconds)
        elif msg.seq >= self.next_seq:  # its checkpoint is still on its way
            self.patience[msg.seq] = msg.seconds
        # (else stale: that checkpoint settled already)

    def _be_patient(self, seconds: float | None) -> None:
        """The armed checkpoint settles with nothing after ``seconds`` (None: it waits)."""
        self.armed_until = None if seconds is None else time.monotonic() + seconds

    def _deliver_queue(self, msg: Checkpoint) -> None:
        queue, self.queue, self.told_cpu, self.armed = self.queue, [], False, None
        self.armed_until = None
        self.patience.pop(msg.seq, None)
        for completion in queue:
            self._deliver(completion.id, completion.status, completion)
        self._settle(msg.seq, msg.icount, [(c.id, c.status) for c in queue])

    def on_expect(self, msg: Expect, src: str) -> None:
        self.expected_max = max([self.expected_max, *(request for request, _ in msg.events)])
        if msg.seq < 0:  # the log has no more checkpoints: what comes now succeeds, but for what failed undelivered
            self.fates.update(msg.events)
            self.fates_open = True
            self.log_ended = True
            for request in self.waiting:
                self._made_by_the_recording(request.id)
        else:
            self.expected[msg.seq] = msg.events
            self.fates.update(msg.events)
        if self.waiting:
            self._issue_waiting()
        if self.due is not None and self.due[0] == msg.seq:
            self._deliver_expected()

    def _deliver_expected(self) -> None:
        assert self.due is not None
        seq, icount, _ = self.due
        events = self.expected.get(seq)
        if events is None or any(request not in self.arrived for request, _ in events):
            return  # wait: the Expect, or a completion, is still to come
        for request, status in events:
            completion = self.arrived.pop(request)
            if completion.status and not status:
                self.send(self.params.logger, ReplayBackendFailed(
                    seq, f"request {request} failed now ({completion.error}) but succeeded when recording"))
                return
            self._deliver(request, status, completion)
        del self.expected[seq]
        self.due = None
        self._settle(seq, icount, events)

    def _deliver(self, request_id: int, status: int, completion: BlockCompletion) -> None:
        """Hand one completion to the ide, with ``status`` (the recorded one
        when replaying: a recorded failure is failed again, without data)."""
        request = self.requests.pop(request_id)
        if status:
            if completion.status:
                self.log.warning("request %d (disk %d %s at %d) failed: %s", request_id, request.disk, request.op,
                                 request.offset, completion.error or f"status {status}")
            # What the ide is told is the status alone: the backend's own words
            # differ between a recording and its replay, the guest's view may not.
            error = f"{os.strerror(status)} (status {status})"  # (1 to MAX_STATUS: see wrong_status, logfile)
            self.send(self.params.ide, BlockCompletion(request.tag, status, b"", error))
        else:
            self.send(self.params.ide, BlockCompletion(request.tag, 0, completion.data))

    def _settle(self, seq: int, icount: int, events: list[tuple[int, int]]) -> None:
        """The checkpoint's completions went to the ide: Settle goes after
        them, and carries what the log records of it (the ide relays it)."""
        self.send(self.params.ide, Settle(seq, icount, events))
        if sealed(seq, self.params.digest_every):
            self.send(self.params.logger, CheckpointDigest(seq, self.node.digest.hexdigest()))

    # --- the replay's wait bound -------------------------------------------------------

    def _housekeeping(self) -> None:
        super()._housekeeping()
        if self.armed is not None and self.armed_until is not None and time.monotonic() >= self.armed_until:
            self._deliver_queue(self.armed)  # the timer wins: settle with nothing
        if self.due is None:
            return
        seq, icount, since = self.due
        if time.monotonic() - since > self.params.wait_bound:
            self.send(self.params.logger, ReplayStuck(seq, self._waiting_for(seq, icount)))
            self.due = (seq, icount, float("inf"))  # said once

    def _waiting_for(self, seq: int, icount: int) -> str:
        bound = f"{self.params.wait_bound:g} s"
        events = self.expected.get(seq)
        if events is None:
            return f"checkpoint {seq} (icount {icount}): no Expect from the logger after {bound}"
        missing = [request for request, _ in events if request not in self.arrived]
        parts = []
        for request in missing:
            r = self.requests.get(request)
            if r is None:
                parts.append(f"request {request} (never issued: the guest made {self.next_id} requests so far)")
            else:
                parts.append(f"request {request} (disk {r.disk} {r.op} of {r.length} bytes at {r.offset})")
        flight = [f"{r.id}" for r in self.requests.values() if r.issued]
        held = f" (held by the reorder fault: {', '.join(str(c.id) for c in self.reorder.held)})" if (
            self.reorder is not None and self.reorder.held) else ""
        return (f"checkpoint {seq} (icount {icount}) waited {bound} for " + ", ".join(parts)
                + f"; in flight at the disks: {', '.join(flight) or 'none'}{held}")
