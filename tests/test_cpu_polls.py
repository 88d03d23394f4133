"""Where the machine polls and where a run to an exact icount stops
(actors.cpu.machine): the points at which the cpu actor flushes what it
queued, and so the frame edges that enter the digests."""

from __future__ import annotations

import pytest

from actors.cpu.bus import RAM_BASE
from actors.cpu.machine import Machine

from .test_cpu_translate import _branch, encode

HURRY = 0x3000_0000  # the test device: a store there asks for a poll soon
WITHIN = 10


class Hurry:
    """A device whose every store asks the machine to poll within WITHIN instructions."""

    BASE, SIZE = HURRY, 0x100

    def __init__(self) -> None:
        self.machine: Machine | None = None

    def read(self, offset: int, size: int) -> int:
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        assert self.machine is not None
        self.machine.poll_within(WITHIN)


def machine(program: list[tuple | int], mode: str, poll_every: int = 1000) -> tuple[Machine, list[int]]:
    """``program`` (instructions for ``encode``, or words) at RAM_BASE, then ``j .``; returns the machine and the
    icounts its polls come at. ``mode``: "blocks" (compiled at once) or
    "interpreted"."""
    polls: list[int] = []
    device = Hurry()
    m = Machine(ram_size=1 << 20, poll=lambda: polls.append(m.icount[0]), poll_every=poll_every, devices=(device,))
    device.machine = m
    if mode == "blocks":
        m.translator.hot = 1
    words = [encode(*insn) if isinstance(insn, tuple) else insn for insn in program] + [0x0000006F]
    m.bus.write_ram(RAM_BASE, b"".join(w.to_bytes(4, "little") for w in words))
    m.pc = RAM_BASE
    return m, polls


STORE_THIRD = [("lui", 5, 0, 0, HURRY), ("addi", 6, 0, 0, 7), ("sw", 0, 5, 6, 0)] + [("addi", 7, 7, 0, 1)] * 40


@pytest.mark.parametrize("mode", ["blocks", "interpreted"])
def test_a_store_that_asks_for_a_poll_gets_it_exactly_so_many_instructions_on(mode: str) -> None:
    """The store is the third instruction: two retired before it, so the
    poll comes at 2 + 1 + WITHIN, inside the straight code after it (a
    compiled block must end at the store to see it)."""
    m, polls = machine(STORE_THIRD, mode)
    m.run(100)
    assert polls == [2 + 1 + WITHIN]


@pytest.mark.parametrize("mode", ["blocks", "interpreted"])
def test_a_poll_brought_forward_goes_back_to_its_usual_place_when_no_longer_wanted(mode: str) -> None:
    m, polls = machine(STORE_THIRD, mode, poll_every=50)
    m.run(5)
    m.poll_as_usual()  # (a checkpoint took what the poll was for)
    m.run(120)
    assert polls == [50, 100]


def test_a_poll_due_where_a_run_ends_comes_before_the_run_returns() -> None:
    """A replay checkpoints where its run ends; its recording, if a poll was
    due there too, polled first (and may have checkpointed because of it):
    the replay must have polled too by then."""
    m, polls = machine([("addi", 7, 7, 0, 1)] * 40, "blocks", poll_every=20)
    assert m.run(20) == "limit"
    assert polls == [20]
    assert m.run(40) == "limit"
    assert polls == [20, 40]


def test_a_run_that_ends_just_past_a_long_block_runs_the_block_compiled() -> None:
    """Within MAX_BLOCK instructions of its end a run used to take single
    steps wherever the longest label of a region did not fit: a replay
    stopping a few instructions past a long block stepped all of it. A
    compiled block now runs the labels that fit and stops by itself."""
    m, _ = machine([("addi", 7, 7, 0, 1)] * 40, "blocks")
    m.run(1)  # (steps one: the block is compiled when first run by a block's path)
    m.run(42)
    assert m.regs[7] == 40 and m.icount[0] == 42
    stepped = sorted(pc for pc in m.translator.steps if RAM_BASE + 4 <= pc < RAM_BASE + 4 * 40)
    assert not stepped, f"stepped {len(stepped)} instructions of the block instead of running it compiled"


def test_the_end_of_a_run_does_not_make_a_region_of_every_instruction_before_it() -> None:
    """Every run here ends at the start of a loop of 201 instructions (a
    poll every five rounds), so the blocks before it are the same each
    time. Counting every pc stepped towards the end as a block start had
    compiled regions starting inside those blocks (11 here; and bench's
    first run, on an empty code cache, was a quarter slower for it)."""
    loop: list[tuple | int] = [("addi", 7, 7, 0, 1)] * 200 + [_branch("bne", 7, 0, -800)]
    m, polls = machine(loop, "interpreted", poll_every=5 * 201)
    m.run(200_000)
    assert len(polls) > 150
    assert m.translator.translated <= 6, f"{m.translator.translated} regions compiled for a loop of 4 blocks"


def test_a_run_ends_at_its_limit_where_a_recording_stops_before_any_interrupt_there() -> None:
    """At icount X a poll is due and so is the timer. Recording, the poll
    brings news of a completion, the cpu stops (stop_hook) and the
    checkpoint raises the disk's interrupt; replaying, the run ends at X
    (its limit) and the same checkpoint follows. Both must then take the
    disk's (external) interrupt first, as it outranks the timer's: had the
    run taken the timer's on its way to returning, the replay would have
    run the two handlers in the other order."""
    from actors.cpu import isa
    from actors.cpu.hart import MIP_MEIP, MIP_MTIP

    X, SOURCE = 40, 1
    handler = RAM_BASE + 0x100

    def setup(m: Machine) -> None:
        m.bus.write_ram(handler, (0x0000006F).to_bytes(4, "little"))  # j .: the first interrupt taken stays
        m.hart.mtvec, m.hart.mie, m.hart.mstatus = handler, MIP_MEIP | MIP_MTIP, m.hart.mstatus | 0x8
        m.plic.priority[SOURCE] = 1
        m.plic.write(0x2000, 4, 1 << SOURCE)  # enabled for hart 0's M context; threshold 0
        m.clint.mtimecmp = X  # mtime is the icount: due at X

    def checkpoint(m: Machine) -> None:
        m.plic.set_level(SOURCE, True)  # what the checkpoint delivered raised the disk's line

    program = [("addi", 7, 7, 0, 1)] * 60
    recording, _ = machine(program, "blocks", poll_every=X)
    setup(recording)
    recording.poll = lambda: setattr(recording, "wants_stop", True)  # the poll at X: completions are queued
    recording.stop_hook = lambda: checkpoint(recording)
    recording.run(X + 10)

    replaying, _ = machine(program, "blocks", poll_every=X)
    setup(replaying)
    assert replaying.run(X) == "limit" and replaying.icount[0] == X
    checkpoint(replaying)
    replaying.run(X + 10)

    external = isa.MACHINE_EXTERNAL_INTERRUPT
    assert recording.interrupt_log[:1] == [(X, external)]
    assert replaying.interrupt_log[:1] == recording.interrupt_log[:1]
