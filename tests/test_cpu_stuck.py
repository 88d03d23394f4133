"""A guest that can make no progress ends its run with an error that says
why, instead of spinning with icount standing still (where no poll, no
instruction limit and no liveness answer would ever come)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Iterator

import pytest

from actors.cpu import Machine, parse
from actors.cpu.machine import GuestHung

from .conftest import build_guest, run_reel

# main() points mtvec at HANDLER and then faults; what sits at HANDLER decides.
TEMPLATE = """
    .globl main
main:
    la t0, {handler}
    csrw mtvec, t0
    {fault}
    ret
    .balign 4
handler_illegal:
    .word 0            # an illegal instruction: the handler itself traps
handler_ok:
    csrr t1, mepc      # a real handler: skip the faulting instruction
    addi t1, t1, 4
    csrw mepc, t1
    mret
"""


@pytest.fixture(autouse=True)
def deadline() -> Iterator[None]:
    """Without the check, an in-process run would spin for ever: fail instead."""
    def expired(signum: int, frame: object) -> None:
        raise AssertionError("the run did not end within 20 s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def build(tmp_path: Path, handler: str, fault: str) -> Path:
    source = tmp_path / "stuck.S"
    source.write_text(TEMPLATE.format(handler=handler, fault=fault))
    return build_guest([source], tmp_path / "stuck.elf")


@pytest.mark.parametrize("handler, fault, mcause", [
    ("handler_illegal", "ecall", 2),
    ("0", "lw t1, 0(zero)", 1),  # mtvec 0: fetching the handler faults
])
def test_an_exception_at_the_handler_itself_ends_the_run(tmp_path: Path, handler: str, fault: str,
                                                         mcause: int) -> None:
    machine = Machine(16 << 20, lambda b: None)
    machine.load(parse(build(tmp_path, handler, fault).read_bytes(), "stuck"))
    with pytest.raises(GuestHung, match=f"trap loop: .* raises mcause {mcause} "):
        machine.run(10_000_000)
    assert machine.pc == machine.hart.mtvec & ~3 and machine.hart.mcause == mcause


def test_a_handler_that_works_is_not_a_trap_loop(tmp_path: Path) -> None:
    """The control: the same fault with a working handler runs on to exit."""
    machine = Machine(16 << 20, lambda b: None)
    machine.load(parse(build(tmp_path, "handler_ok", "ecall").read_bytes(), "ok"))
    assert machine.run(10_000_000) == "exit" and machine.exit_code == 0


def test_reel_run_reports_a_trap_loop_at_once(tmp_path: Path) -> None:
    elf = build(tmp_path, "0", "lw t1, 0(zero)")
    result = run_reel("run", str(elf), "--max-instructions", "1000", timeout=30)
    assert result.returncode != 0 and "trap loop" in result.stderr, result.stderr
    assert "silent" not in result.stderr  # not taken for a hung process
