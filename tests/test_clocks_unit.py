"""The cpu's record and replay strategies (actors.cpu.clocks) at a wfi with
the timer armed, driven without sockets: a fake cpu and hart, and
checkpoints that only say what they delivered."""

from __future__ import annotations

from types import SimpleNamespace

from actors.cpu.clocks import Record, Replay
from actors.schema import Patience, RunTo


class Hart:
    def __init__(self) -> None:
        self.awake = False

    def may_wake(self) -> bool:
        return self.awake


def strategy(kind: type, script: list[tuple[bool, bool]]) -> tuple[Record | Replay, list[int], list[object]]:
    """``kind`` on a fake cpu whose checkpoints follow ``script``: for each,
    (whether it wakes the hart, whether an EventsPending for the next one
    arrives while it settles); the checkpoints made and what was sent."""
    hart = Hart()
    sent: list[object] = []
    cpu = SimpleNamespace(machine=SimpleNamespace(hart=hart, icount=[1000], wants_stop=False),
                          params=SimpleNamespace(blkreplay="blkreplay"),
                          send=lambda peer, msg: sent.append(msg))
    clock = kind(cpu)
    made: list[int] = []

    def checkpoint(seq: int) -> int:
        made.append(seq)
        clock.seq = seq + 1
        wakes, news = script[len(made) - 1]
        if news:
            clock.events_pending(seq + 1)
        hart.awake = wakes
        return int(wakes)

    clock.checkpoint = checkpoint  # type: ignore[method-assign]
    return clock, made, sent


def test_recording_checkpoints_a_completion_that_came_after_the_patience_before_time_jumps() -> None:
    """The patience ran out (the checkpoint settled empty), and a completion
    reached blkreplay just after: its checkpoint is made here, at this
    icount, before the hart's time may jump. Before, the run loop made it
    after the jump, at the same icount; the log cannot say which side of
    the jump a checkpoint was on, and its replay made it before: the
    interrupt came 2370 ticks of mtime early, and the replay diverged."""
    clock, made, sent = strategy(Record, [(False, True), (True, False)])
    clock.hooks()["idle_for"](0.25)
    assert made == [0, 1] and sent == [Patience(0, 0.25), Patience(1, 0.0)]
    assert not clock.pending  # nothing left for the run loop to checkpoint at this icount, after a jump


def test_recording_stops_at_a_checkpoint_that_wakes_the_hart_or_brings_no_news() -> None:
    clock, made, _ = strategy(Record, [(False, False)])
    clock.hooks()["idle_for"](0.25)
    assert made == [0]  # the timer won: the jump follows
    clock, made, _ = strategy(Record, [(True, True)])
    clock.hooks()["idle_for"](0.25)
    assert made == [0] and clock.pending  # awake: the run loop checkpoints before it takes the interrupt


def test_replay_makes_every_checkpoint_at_this_icount_before_time_jumps() -> None:
    """As its recording did (above): both checkpoints at icount 1000, then
    the hart may wake, and no checkpoint at a later icount is made."""
    clock, made, _ = strategy(Replay, [(False, False), (True, False)])
    for msg in (RunTo(0, 1000), RunTo(1, 1000), RunTo(2, 5000)):
        clock.run_to(msg)
    clock.hooks()["idle_for"](0.25)
    assert made == [0, 1]
