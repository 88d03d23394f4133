"""External interrupts: when the PLIC subset tells the hart to look for an
interrupt, and that an interrupt made deliverable by a PLIC access or
unmasked by mret is taken right after that instruction."""

from __future__ import annotations

import pytest

from actors.cpu.bus import RAM_BASE
from actors.cpu.devices import Plic
from actors.cpu.hart import MIP_MEIP, MSTATUS_MIE, MSTATUS_MPIE, Completed
from actors.cpu.isa import MACHINE_EXTERNAL_INTERRUPT
from actors.cpu.machine import Machine

from .test_cpu_translate import encode, ran_translated

ENABLE, CLAIM = 0x2000, 0x20_0004


def _plic() -> tuple[Plic, list[int]]:
    calls: list[int] = []
    plic = Plic(lambda: calls.append(1))
    plic.priority[1] = 1
    return plic, calls


def test_only_a_line_that_makes_a_source_deliverable_asks_the_hart_to_look() -> None:
    plic, calls = _plic()
    plic.set_level(1, True)  # pending, but not enabled: nothing can be due
    assert calls == [] and plic.pending == 1 << 1
    plic.set_level(1, False)
    plic.enabled = 1 << 1
    plic.set_level(1, True)  # pending and enabled, priority above threshold
    assert calls == [1]
    plic.set_level(1, False)  # falling: nothing can become due
    assert calls == [1]
    assert plic.read(CLAIM, 4) == 1  # claimed: in service
    plic.set_level(1, True)  # rising while in service: not pending until completed
    assert calls == [1] and plic.pending == 0


def test_a_write_stops_the_run_only_when_a_source_is_deliverable_after_it() -> None:
    plic, _ = _plic()
    plic.write(ENABLE, 4, 1 << 1)  # enabled, nothing pending: no interrupt can be due
    plic.set_level(1, True)
    with pytest.raises(Completed):
        plic.write(ENABLE, 4, 1 << 1)  # pending and enabled: one is
    assert plic.read(CLAIM, 4) == 1
    with pytest.raises(Completed):
        plic.write(CLAIM, 4, 1)  # completed with the line still high: pending again
    plic.set_level(1, False)
    assert plic.read(CLAIM, 4) == 1
    plic.write(CLAIM, 4, 1)  # completed with the line low: nothing is due


def _machine(mode: str) -> tuple[Machine, int]:
    m = Machine(ram_size=1 << 20)
    if mode == "blocks":
        m.translator.hot = 1
    handler = RAM_BASE + 0x400
    m.bus.write_ram(handler, (0x0000006F).to_bytes(4, "little"))  # j .
    m.hart.mtvec = handler
    m.hart.mie = MIP_MEIP
    m.hart.mstatus |= MSTATUS_MIE
    m.plic.priority[1] = 1
    return m, handler


@pytest.mark.parametrize("mode", ["blocks", "interpreted", "steps"])
@pytest.mark.parametrize("case", ["enable", "complete"])
def test_an_interrupt_a_plic_write_makes_deliverable_is_taken_right_after_it(case: str, mode: str) -> None:
    m, handler = _machine(mode)
    m.plic.set_level(1, True)
    if case == "complete":  # source 1 in service, its line still high
        m.plic.enabled = 1 << 1
        assert m.plic.read(CLAIM, 4) == 1
    offset, value = (ENABLE, 1 << 1) if case == "enable" else (CLAIM, 1)
    program = [encode("lui", 10, 0, 0, 0x0C000000 + (offset & ~0xFFF)), encode("addi", 11, 0, 0, value),
               encode("sw", 0, 10, 11, offset & 0xFFF), encode("addi", 7, 0, 0, 1), encode("addi", 8, 0, 0, 1)]
    m.bus.write_ram(RAM_BASE, b"".join(w.to_bytes(4, "little") for w in program))
    m.pc = RAM_BASE
    m.irq_changed = False
    if mode == "steps":
        for n in range(1, 4):
            m.run(n)
    m.run(200)  # the interrupt, then the handler's loop
    ran_translated(m, mode)
    assert (m.hart.mcause, m.hart.mepc) == (MACHINE_EXTERNAL_INTERRUPT, RAM_BASE + 12)
    assert m.regs[7] == 0 and m.pc == handler


@pytest.mark.parametrize("mode", ["blocks", "interpreted", "steps"])
@pytest.mark.parametrize("pending", [True, False])
def test_mret_that_unmasks_a_pending_interrupt_takes_it_before_the_instruction_it_returns_to(
        pending: bool, mode: str) -> None:
    m, handler = _machine(mode)
    m.hart.mstatus = (m.hart.mstatus & ~MSTATUS_MIE) | MSTATUS_MPIE  # masked now, unmasked by mret
    back = RAM_BASE + 0x100
    m.hart.mepc = back
    m.bus.write_ram(RAM_BASE, (0x30200073).to_bytes(4, "little"))  # mret
    m.bus.write_ram(back, b"".join(encode("addi", r, 0, 0, 1).to_bytes(4, "little") for r in (7, 8)))
    m.bus.write_ram(back + 8, (0x0000006F).to_bytes(4, "little"))  # j .
    if pending:
        m.plic.enabled = 1 << 1
        m.plic.set_level(1, True)
    m.pc = RAM_BASE
    if mode == "steps":
        m.run(1)
    m.run(200)
    ran_translated(m, mode)
    if pending:
        assert (m.hart.mcause, m.hart.mepc, m.pc, m.regs[7]) == (MACHINE_EXTERNAL_INTERRUPT, back, handler, 0)
    else:
        assert m.regs[7] == 1 and m.regs[8] == 1 and m.pc == back + 8


def test_the_timer_deadline_follows_mtime_past_its_wrap() -> None:
    """mtime wraps past 2**64 (a guest can set it near there): mtimecmp,
    passed before the wrap, lies ahead again, and the deadline the run loop
    stops at must lie ahead too, or it stops in the past for ever (the cpu
    spun without retiring an instruction)."""
    from actors.cpu.devices import Clint
    from actors.cpu.hart import MIP_MTIP

    icount = [1000]
    clint = Clint(icount, [0])
    clint.mtimecmp = 2**64 - 16
    clint.idle_ticks = 2**64 - 1000 + 0x2EF  # mtime has wrapped to 0x2ef
    assert clint.mtime() == 0x2EF and not clint.mip() & MIP_MTIP
    assert clint.deadline_icount() == 1000 + (2**64 - 16 - 0x2EF)
    clint.mtimecmp = 0x100  # passed: pending now, and due now
    assert clint.mip() & MIP_MTIP and clint.deadline_icount() == 1000
    icount[0] += 5
    assert clint.deadline_icount() == 1005
