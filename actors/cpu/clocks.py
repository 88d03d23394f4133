"""How the cpu actor's run meets the outside world's non-determinism: one
strategy per mode, chosen once.

* ``Direct``: completions reach the guest whenever they arrive (at a poll,
  or in a device access's window). No checkpoints, no logger.
* ``Record``: when blkreplay says completions are queued, the cpu stops at
  the next instruction boundary it reaches (right after a device access, at
  the next poll, or where it would idle in ``wfi``) and makes a checkpoint
  there; the icount it chose is recorded.
* ``Replay``: the logger says at which icounts the recording made its
  checkpoints; the cpu runs to exactly each one and makes it there.

A checkpoint is the same in both: Checkpoint(seq, icount) to the ide (which
forwards it to blkreplay after everything the cpu sent before), then serve
the ide's DMA, registers and interrupt line until Settled(seq), then report
this actor's digest to the logger.
"""

from __future__ import annotations

import collections
import time
from typing import TYPE_CHECKING

from ..schema import Checkpoint, CheckpointDigest, GuestExit, IdleQuery, IdleReply, Patience, RunTo, Settled, sealed

from .machine import GuestHung

if TYPE_CHECKING:
    from .actor import Cpu
    from .machine import Machine


PUSH_WITHIN = 256
"""Recording or replaying, a bus-master start waits at most this many
instructions for a checkpoint to go with, then leaves with a poll. A driver
that waits for its transfer idles a few dozen instructions after starting
it, and its checkpoint's frame then carries both to the ide (and the ide's
one frame both to blkreplay): a frame and two wake-ups less per command."""

HUNG_AFTER_SECONDS = 1.0
"""Directly, how long a hart idle in wfi waits with nothing arriving before
the cpu asks the ide whether anything could still wake it."""


class Divergence(Exception):
    """The guest does something the recording did not."""


class Direct:
    """No record, no replay."""

    def __init__(self, cpu: Cpu) -> None:
        self.cpu = cpu

    def hooks(self) -> dict[str, object]:
        return {"idle_for": self._idle_for, "idle": self._idle}

    def _idle(self) -> None:
        """Wait for the outside world until the hart may wake. After each
        while of waiting in vain, ask the ide whether a disk request is in
        flight: with none, nothing will ever wake the guest, and the run
        stops saying so instead of waiting for good. (Asked only after a
        while: an idle turn that ends soon costs no round trip.)"""
        cpu, machine = self.cpu, self.cpu.machine
        assert machine is not None
        cpu.flush_console()
        ask_at = time.monotonic() + HUNG_AFTER_SECONDS
        while not machine.hart.may_wake():
            cpu.wait(ask_at)
            if time.monotonic() >= ask_at and not machine.hart.may_wake():
                if not self._may_wake_later():
                    raise GuestHung(_nothing_can_wake(machine))
                ask_at = time.monotonic() + HUNG_AFTER_SECONDS
        machine.irq_changed = False

    def _may_wake_later(self) -> bool:
        cpu = self.cpu
        if not cpu.params.ide:
            return False  # the ide is the only source of external interrupts
        in_flight = cpu.call(cpu.params.ide, IdleQuery(), IdleReply).in_flight
        assert cpu.machine is not None
        return in_flight > 0 or cpu.machine.hart.may_wake()  # (what came with the answer may wake it)

    def _idle_for(self, seconds: float) -> None:
        """Serve the inbox until the hart may wake or ``seconds`` have passed."""
        machine, until = self.cpu.machine, time.monotonic() + seconds
        assert machine is not None
        while not machine.hart.may_wake() and time.monotonic() < until:
            self.cpu.wait(until)
        machine.irq_changed = False

    def run(self, machine: Machine) -> str:
        return machine.run(self.cpu.params.max_instructions or None)

    def push_soon(self) -> None:
        """A bus-master start is queued: it goes now, its disk request too."""
        self.cpu.flush()

    def exited(self, machine: Machine, report: dict[str, object]) -> None:
        self.cpu.finish_guest(machine, report)

    def events_pending(self, seq: int) -> None:
        pass

    def run_to(self, msg: RunTo) -> None:
        pass


class _Checkpointing(Direct):
    def __init__(self, cpu: Cpu) -> None:
        super().__init__(cpu)
        self.seq = 0

    def push_soon(self) -> None:
        """A bus-master start is queued: it goes with the next checkpoint, or
        with a poll PUSH_WITHIN instructions on, whichever comes first. (The
        disk cannot finish before a checkpoint delivers it anyway.)"""
        assert self.cpu.machine is not None
        self.cpu.machine.poll_within(PUSH_WITHIN)

    def checkpoint(self, seq: int) -> int:
        """Make checkpoint ``seq`` here; how many completions it delivered."""
        cpu, machine = self.cpu, self.cpu.machine
        assert machine is not None
        cpu.flush_console()
        # From here an EventsPending for ``seq`` is stale: this checkpoint takes that queue.
        self.seq = seq + 1
        # Into the frame of what the guest posted since the last flush point
        # (frame edges enter the digests: every flush point is a fixed point
        # of the guest's execution, polls, synchronous accesses, checkpoints,
        # and the same in a replay; nothing waits between them).
        cpu.send(cpu.params.ide, Checkpoint(seq, machine.icount[0]))
        machine.poll_as_usual()  # (a bus-master start goes in this frame: see push_soon)
        settled = cpu.wait_for(cpu.params.ide, Settled)
        if settled.seq != seq:
            raise Divergence(f"checkpoint {seq}: the ide settled checkpoint {settled.seq}")
        if sealed(seq, cpu.params.digest_every):
            cpu.send(cpu.params.logger, CheckpointDigest(seq, cpu.node.digest.hexdigest()))
        machine.irq_changed = False  # the run loop looks for a due interrupt right after this
        return settled.delivered

    def exited(self, machine: Machine, report: dict[str, object]) -> None:
        """The logger has the last word on a recorded or replayed run."""
        code = machine.exit_code if machine.exit_code is not None else -1
        self.cpu.send(self.cpu.params.logger, GuestExit(machine.icount[0], code, str(report["state_digest"]),
                                                        str(report["memory_digest"]), self.seq,
                                                        self.cpu.undelivered, str(report["console_error"])))


class Record(_Checkpointing):
    def __init__(self, cpu: Cpu) -> None:
        super().__init__(cpu)
        self.pending = False

    def hooks(self) -> dict[str, object]:
        return {"stop_hook": self._stop, "before_idle": self._before_idle, "idle": self._idle,
                "idle_for": self._idle_for}

    def events_pending(self, seq: int) -> None:
        if seq < self.seq:
            return  # checkpoint ``seq`` took those completions already
        self.pending = True
        assert self.cpu.machine is not None
        self.cpu.machine.wants_stop = True

    def _stop(self) -> None:
        if self.pending:
            self.pending = False
            self.checkpoint(self.seq)

    def _before_idle(self) -> None:
        # Whether completions were queued when the guest went idle is a fact
        # of this recording: the checkpoint here records it.
        self._stop()

    def _idle_for(self, seconds: float) -> None:
        """The timer could wake the guest, and so could a completion: a
        checkpoint now delivers the first to come within ``seconds``, or
        none (the recorded fact that the timer won).

        Invariant: when this returns, no checkpoint is pending, so none is
        made at this icount after the hart's time jumps. A completion that
        came just after the patience ran out (its EventsPending arrived
        while the checkpoint settled) is checkpointed here, at once. The
        log keeps a checkpoint's icount, not whether it came before or
        after the jump; a replay makes every checkpoint at one icount
        before it decides the jump (Replay._idle_for)."""
        machine = self.cpu.machine
        assert machine is not None
        patience = seconds
        while True:
            self.cpu.send(self.cpu.params.blkreplay, Patience(self.seq, patience))
            self.checkpoint(self.seq)
            if not self.pending or machine.hart.may_wake():
                return  # (pending and awake: the run loop checkpoints before it takes the interrupt)
            self.pending, patience = False, 0.0  # (what is queued goes at once; nothing more is waited for)

    def _idle(self) -> None:
        """Nothing but a completion can wake the guest: checkpoint now, and
        blkreplay answers with the first completion to come (no round of
        EventsPending first). The icount is this one either way. With no
        request in flight it answers at once, with none: if the guest still
        cannot wake then, nothing will ever wake it."""
        machine = self.cpu.machine
        assert machine is not None
        if not self.checkpoint(self.seq) and not machine.hart.may_wake():
            raise GuestHung(_nothing_can_wake(machine))


class Replay(_Checkpointing):
    def __init__(self, cpu: Cpu) -> None:
        super().__init__(cpu)
        self.targets: collections.deque[RunTo] = collections.deque()

    def hooks(self) -> dict[str, object]:
        return {"before_idle": self._before_idle, "idle": self._idle, "idle_for": self._idle_for}

    def run_to(self, msg: RunTo) -> None:
        self.targets.append(msg)

    def _next(self) -> RunTo:
        while not self.targets:
            self.cpu.wait()
        return self.targets[0]

    def run(self, machine: Machine) -> str:
        while True:
            target = self._next()
            if target.seq == -1:  # the recording ran on to the guest's exit
                outcome = machine.run(target.icount + 1)
                if outcome != "exit":
                    raise Divergence(f"the recording's guest exited at icount {target.icount}; this one ran past it")
                return outcome
            if target.seq == -2:  # the log ends: stop here
                return "end of log"
            outcome = machine.run(target.icount)
            if outcome == "exit":
                raise Divergence(f"the guest exited at icount {machine.icount[0]}; the recording has checkpoint "
                                 f"{target.seq} at icount {target.icount}")
            self._checkpoint_if_due(machine)

    def _checkpoint_if_due(self, machine: Machine) -> bool:
        target = self._next()
        if target.seq >= 0 and target.icount == machine.icount[0]:
            self.targets.popleft()
            self.checkpoint(target.seq)
            return True
        return False

    def _before_idle(self) -> None:
        assert self.cpu.machine is not None
        self._checkpoint_if_due(self.cpu.machine)

    def _idle_for(self, seconds: float) -> None:
        """As the recording did: its checkpoints here, if it made any, every
        one at this icount (see Record._idle_for), until the hart may wake;
        then what they delivered decides whether time jumps."""
        machine = self.cpu.machine
        assert machine is not None
        while not machine.hart.may_wake() and self._checkpoint_if_due(machine):
            pass

    def _idle(self) -> None:
        machine = self.cpu.machine
        assert machine is not None
        if not self._checkpoint_if_due(machine):
            target = self.targets[0]
            if target.seq == -2 and not machine.hart.may_wake():  # as the recording ended: see Record._idle
                raise GuestHung(_nothing_can_wake(machine))
            raise Divergence(f"the guest waits for an interrupt at icount {machine.icount[0]}, but the recording's "
                             f"next checkpoint is at icount {target.icount}")


def _nothing_can_wake(machine: Machine) -> str:
    return (f"the guest waits (wfi at {machine.pc - 4:#010x}) for an interrupt with no disk request in flight: "
            f"nothing can wake it (mie {machine.hart.mie:#x})")


CLOCKS = {"direct": Direct, "record": Record, "replay": Replay}
