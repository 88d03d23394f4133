"""The clock of the machine: icount is exact and runs are repeatable."""

from __future__ import annotations

from actors.cpu import isa

from .conftest import run_machine


def final_state(machine) -> tuple:
    return machine.icount[0], machine.regs[:], machine.pc, machine.state_digest(), machine.memory_digest()


def test_two_runs_of_bench_end_in_the_same_state_and_a_different_stop_shows() -> None:
    first, outcome, console = run_machine("bench")
    second, _, console2 = run_machine("bench")
    assert outcome == "exit" and console == console2
    assert final_state(first) == final_state(second)
    # The comparison can tell a difference: one instruction fewer changes it.
    short, outcome, _ = run_machine("bench", limit=first.icount[0] - 1)
    assert outcome == "limit" and final_state(short) != final_state(first)


def test_the_timer_interrupt_fires_at_the_same_icount_every_run() -> None:
    logs = []
    for _ in range(3):
        machine, outcome, console = run_machine("traps")
        assert outcome == "exit" and machine.exit_code == 0, console
        timer = [icount for icount, cause in machine.interrupt_log if cause == isa.MACHINE_TIMER_INTERRUPT]
        assert timer, "traps took no timer interrupt"
        logs.append((timer, machine.icount[0], machine.state_digest()))
    assert logs[0] == logs[1] == logs[2]
    # The comparison can see a difference: the same guest with its virtual
    # clock moved by one tick partway (as a leak of host time would move
    # it) ends in another state. (The timer's icount itself is fixed by
    # the guest's wfi, which skips to the deadline whatever the clock.)
    from actors.cpu import Machine, parse

    from .conftest import GUESTS

    m = Machine(16 << 20, bytearray().append)
    m.load(parse((GUESTS / "traps.elf").read_bytes()))
    assert m.run(logs[0][0][0] // 2) == "limit"
    m.clint.idle_ticks += 1
    assert m.run() == "exit" and m.exit_code == 0
    moved = [icount for icount, cause in m.interrupt_log if cause == isa.MACHINE_TIMER_INTERRUPT]
    assert (moved, m.icount[0], m.state_digest()) != logs[0]


def test_stopping_at_exact_icounts_changes_nothing() -> None:
    """Stop points force single steps where blocks would have run; the end
    state must not depend on where the machine was stopped."""
    whole, _, console = run_machine("traps")
    from actors.cpu import Machine, parse

    from .conftest import GUESTS

    out = bytearray()
    m = Machine(16 << 20, out.append)
    m.load(parse((GUESTS / "traps.elf").read_bytes()))
    stop = 0
    for step in (1, 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67) * 200:
        stop += step
        outcome = m.run(stop)
        if outcome == "exit":
            break
        assert m.icount[0] == stop  # exactly there
    else:
        assert m.run() == "exit"
    assert bytes(out) == console
    assert final_state(m) == final_state(whole)
    assert m.interrupt_log == whole.interrupt_log
