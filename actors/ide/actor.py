"""The ide actor: the IDE controller between the cpu and the disks.

Register accesses, PIO blocks and bus-master starts come from the cpu;
disk requests go to one image actor (or blkreplay) per drive; DMA data,
interrupt lines and PIO blocks go back to the cpu. The controller itself
(``actors.ide.controller``) does no I/O; this actor turns its effects into
messages.
"""

from __future__ import annotations

import contextlib
import time
from typing import Annotated, Iterator

import msgspec

from .._blocking import BlockingActor
from ..schema import (
    BlockCompletion,
    BlockRequest,
    Checkpoint,
    CheckpointDigest,
    DmaStart,
    DmaScatter,
    Drain,
    Drained,
    EventsPending,
    IdleQuery,
    IdleReply,
    InterruptAck,
    IrqLevel,
    MmioDone,
    MmioRead,
    MmioValue,
    MmioWrite,
    PioData,
    PioDrained,
    PioExpect,
    PioFill,
    Recorded,
    RegisterSnapshot,
    Settle,
    Settled,
    wrong_status,
)
from .controller import Controller
from .drive import LBA48_SECTORS, Drive


SLOW_DISK_SECONDS = 15.0
"""A disk request unanswered this long is said, and again each time as long
again: a disk that lives on (its heartbeats keep it inside the liveness
bound) but never answers left the guest waiting with nothing said. (A
replay's blkreplay fails the run sooner, at its wait bound.)"""

DIRECT_MIN = 64 * 1024
"""The smallest DMA read whose data goes from the disk straight to the cpu
(``Ide.Params.direct_reads``). Measured here: diskseq's 1 MiB reads ran
about 1.6 times as fast so; diskqd1's 4 KiB reads gained nothing
measurable (the data, registers and interrupt of a small read reach the
cpu in one frame from the ide)."""


class DiskSlot(msgspec.Struct, forbid_unknown_fields=True):
    """A drive: the peer that holds its data and its size in sectors."""

    peer: str
    sectors: Annotated[int, msgspec.Meta(ge=1, le=LBA48_SECTORS)]
    serial: Annotated[str, msgspec.Meta(max_length=20)] = ""  # IDENTIFY's serial number field holds 20


class Ide(BlockingActor):
    class Params(msgspec.Struct, forbid_unknown_fields=True):
        cpu: str = "cpu"
        blkreplay: str = ""  # recording or replaying: where checkpoints go
        logger: str = ""  # ... and where this actor's digest at each one goes
        # In reel's order: channel 0 master, channel 1 master, channel 0 slave, channel 1 slave.
        disks: list[DiskSlot | None] = []
        # Whether the data of a DMA read of DIRECT_MIN bytes or more goes
        # from the disk straight to the cpu (each disk then needs a link to
        # it): it crosses one hop instead of two (BlockRequest.data_to).
        direct_reads: bool = False
        slow_disk_seconds: Annotated[float, msgspec.Meta(gt=0)] = SLOW_DISK_SECONDS

        def __post_init__(self) -> None:
            if self.direct_reads and self.blkreplay:
                raise ValueError("direct_reads cannot be used with blkreplay: blkreplay sends each read's data "
                                 "back through the ide, to deliver it at a checkpoint")

    SENDERS = {"cpu": frozenset({MmioRead, MmioWrite, DmaStart, IdleQuery, InterruptAck, PioDrained, PioData,
                                 Checkpoint, Drain}),
               "blkreplay": frozenset({Settle})}

    @classmethod
    def peers_named(cls, params: Ide.Params) -> dict[str, str]:
        named = super().peers_named(params)  # cpu, and blkreplay when recording or replaying
        if params.logger:
            named["logger"] = params.logger
        named.update({f"disks[{i}].peer": slot.peer for i, slot in enumerate(params.disks) if slot is not None})
        return named

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        slots: list[DiskSlot | None] = list(self.params.disks)
        drives = [Drive(s.sectors, serial=s.serial or f"REEL{i:04d}") if s else None for i, s in enumerate(slots)]
        self.peers = [s.peer if s else "" for s in slots]
        self.controller = Controller(drives, self)
        # Recording or replaying, what the controller does to the cpu on its
        # own (an interrupt for a command that ended at once, a PIO block)
        # waits here, in order, until the cpu's next synchronous access or
        # checkpoint: so it reaches the guest at a point of the guest's own
        # execution (or a recorded icount), never at whichever poll the cpu
        # happened to be at when it arrived. The cpu is told (EventsPending)
        # so that a recording checkpoints soon. Invariant: ``held`` is empty
        # while a checkpoint or a synchronous access is being answered.
        self.holding = bool(self.params.blkreplay)
        self.held: list[msgspec.Struct] = []
        self.in_checkpoint = False
        self.in_exchange = False  # answering a synchronous access: its effects precede the answer
        self.next_seq = 0  # the checkpoint the cpu makes next
        # Requests whose data goes to the cpu, which holds it until a
        # DmaScatter names them; each gets exactly one.
        self.parked: set[int] = set()
        self.asked: dict[int, tuple[str, int, str, float]] = {}  # unanswered disk requests: (op, length, peer, when)
        self.slow_check_at = 0.0  # (time.monotonic) when the oldest of them is next looked at
        self.draining: set[str] = set()  # the disk peers a Drain went to that have not answered it
        self.undelivered: list[tuple[int, int]] = []  # what their answers said no checkpoint delivered

    # --- the controller's effects -------------------------------------------------

    def disk(self, drive: int, op: str, offset: int, length: int, data: bytes, tag: int,
             to_memory: bool = False) -> None:
        self.asked[tag] = (op, length, self.peers[drive], time.monotonic())  # (the time is only ever said)
        # Small reads come back here: their data, registers and interrupt
        # reach the cpu in one frame, where the other way costs a hop more.
        if to_memory and length >= DIRECT_MIN and self.params.direct_reads:
            self.parked.add(tag)
            self.send(self.peers[drive], BlockRequest(tag, op, offset, length, data, drive, data_to=self.params.cpu))
            return
        self.send(self.peers[drive], BlockRequest(tag, op, offset, length, data, drive))

    def memory_write(self, ranges: list[tuple[int, int]], data: bytes, tag: int = -1) -> None:
        if tag in self.parked:
            self.parked.discard(tag)
            if not data:  # it went to the cpu (a disk that knows no data_to brings it here: sent on below)
                self._to_cpu(DmaScatter(ranges, b"", tag))
                return
        # The disk's buffer goes on as it came: one message, no copy here.
        self._to_cpu(DmaScatter(ranges, data))

    def irq(self, line: int, high: bool) -> None:
        self._to_cpu(IrqLevel(line, high))

    def pio_fill(self, channel: int, transfer: int, data: bytes) -> None:
        self._to_cpu(PioFill(channel, transfer, data))

    def pio_expect(self, channel: int, transfer: int, length: int) -> None:
        self._to_cpu(PioExpect(channel, transfer, length))

    def _to_cpu(self, msg: msgspec.Struct) -> None:
        if not self.holding or self.in_checkpoint or self.in_exchange:
            self.send(self.params.cpu, msg)
            return
        if not self.held:
            self.send(self.params.cpu, EventsPending(self.next_seq))
        self.held.append(msg)

    def _release(self) -> None:
        """What was held goes to the cpu now, ahead of the reply (or Settled) to come."""
        for msg in self.held:
            self.send(self.params.cpu, msg)
        self.held.clear()

    # --- messages (see actors.schema) ---------------------------------------------

    def on_mmio_read(self, msg: MmioRead, src: str) -> None:
        with self._exchange():
            value = self.controller.read(msg.offset, msg.size)
        self.send(src, MmioValue(value))

    def on_mmio_write(self, msg: MmioWrite, src: str) -> None:
        if not msg.sync:
            self.controller.write(msg.offset, msg.size, msg.value)
            return
        with self._exchange():
            self.controller.write(msg.offset, msg.size, msg.value)
        self.send(src, MmioDone())

    @contextlib.contextmanager
    def _exchange(self) -> Iterator[None]:
        """Answering a synchronous access: what was held goes first, and
        what the access itself does goes straight on, ahead of the answer."""
        self._release()
        self.in_exchange = True
        try:
            yield
        finally:
            self.in_exchange = False

    def snapshot(self, channel: int, slave: bool, status: int, error: int, bm_status: int, pending: bool) -> None:
        self._to_cpu(RegisterSnapshot(channel, slave, status, error, bm_status, pending))

    def on_dma_start(self, msg: DmaStart, src: str) -> None:
        self.controller.dma_start(msg.channel, msg.command, msg.prd, msg.data, msg.reach)

    def on_checkpoint(self, msg: Checkpoint, src: str) -> None:
        # From the cpu, after everything it sent before stopping: so every
        # request those writes made has gone to blkreplay before this does,
        # and what they made the controller do on its own is held here.
        self.in_checkpoint = True
        self.next_seq = msg.seq + 1
        self._release()
        self.send(self.params.blkreplay, msg)

    def on_settle(self, msg: Settle, src: str) -> None:
        # The checkpoint's completions (just before this, in order) are
        # applied: their DMA, registers and interrupt went to the cpu first.
        # The logger gets the events and this actor's digest in one frame.
        self.in_checkpoint = False
        self.send(self.params.cpu, Settled(msg.seq, len(msg.events)))
        self.send(self.params.logger, Recorded(msg.seq, msg.icount, msg.events))
        self.send(self.params.logger, CheckpointDigest(msg.seq, self.node.digest.hexdigest()))

    def _wrong_answer(self, msg: BlockCompletion, src: str) -> str | None:
        """None for a completion to take; "" for one to drop (a second answer
        to a request); else what is wrong with it, which fails the run: the
        guest would otherwise wait for ever, or get the wrong bytes, with no
        word of the disk at fault."""
        asked = self.asked.pop(msg.id, None)
        if asked is None:
            if msg.id >= self.controller.next_tag or msg.id < 1:
                return f"{src} answered request {msg.id}, which this ide never sent"
            return ""
        op, length, _, _ = asked
        if wrong := wrong_status(msg, src):
            return wrong
        elsewhere = msg.id in self.parked and not msg.data  # (its data went to the cpu)
        if msg.status == 0 and op == "read" and not elsewhere and len(msg.data) != length:
            return f"{src} answered read request {msg.id} with {len(msg.data)} bytes; {length} were asked"
        return None

    def _housekeeping(self) -> None:
        super()._housekeeping()
        now = time.monotonic()
        if not self.asked or now < self.slow_check_at:
            return
        tag, (op, length, peer, since) = next(iter(self.asked.items()))  # the oldest: requests go in order of asking
        waited = now - since
        bound = self.params.slow_disk_seconds
        if waited < bound:
            self.slow_check_at = since + bound
            return
        self.slow_check_at = now + bound
        self.log.warning("%s has not answered %s request %d (%d bytes) for %.0f s; the guest waits for it "
                         "(%d request(s) unanswered)", peer, op, tag, length, waited, len(self.asked))

    def on_drain(self, msg: Drain, src: str) -> None:
        # Behind every request this actor sent: each disk peer answers once
        # they are all done (see Drain).
        self.draining = {peer for peer in self.peers if peer}
        self.undelivered = []
        for peer in sorted(self.draining):
            self.send(peer, Drain())
        if not self.draining:
            self.send(self.params.cpu, Drained())

    def on_drained(self, msg: Drained, src: str) -> None:
        if src in self.draining:
            self.draining.discard(src)
            self.undelivered += msg.undelivered
            if not self.draining:
                self.send(self.params.cpu, Drained(self.undelivered))

    def on_idle_query(self, msg: IdleQuery, src: str) -> None:
        with self._exchange():  # (what was held, if any, goes first: it may wake the guest)
            in_flight = len(self.controller.in_flight)
        self.send(src, IdleReply(in_flight))

    def on_interrupt_ack(self, msg: InterruptAck, src: str) -> None:
        self.controller.interrupt_acknowledged(msg.channel)

    def on_pio_drained(self, msg: PioDrained, src: str) -> None:
        self.controller.pio_drained(msg.channel, msg.transfer)

    def on_pio_data(self, msg: PioData, src: str) -> None:
        self.controller.pio_data(msg.channel, msg.transfer, msg.data)

    def on_block_completion(self, msg: BlockCompletion, src: str) -> None:
        wrong = self._wrong_answer(msg, src)
        if wrong is not None:
            if wrong:
                self.fail(wrong)
            return
        if msg.status:
            self.log.warning("request %d to %s failed: %s", msg.id, src, msg.error or f"errno {msg.status}")
        self.controller.disk_done(msg.id, msg.status == 0, msg.data)
        if msg.id in self.parked:  # nothing of it reaches memory (an error, a reset...): the cpu lets it go
            self.parked.discard(msg.id)
            self._to_cpu(DmaScatter([], b"", msg.id))
