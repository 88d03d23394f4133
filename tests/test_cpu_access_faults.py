"""Access faults and vectored trap entry, as the privileged spec has them:
a load, a store and an instruction fetch at an address nothing answers
trap with mcause 5, 7 and 1, mepc at the faulting instruction (for a fetch:
the target) and mtval the address; in vectored mode an exception enters at
the base and the machine timer interrupt at base + 4 * 7. Checked in
compiled blocks and in the interpreter."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from actors.cpu import Machine, parse, translate

from .conftest import build_guest, need_tool

# Each trap appends (mcause, mepc, mtval, entry) to `seen`; entry tells which
# vector was entered. main() returns how many traps it saw.
SOURCE = """
    .globl main, seen, load_at, store_at
main:
    addi sp, sp, -16
    sw ra, 0(sp)
    la t0, vectors
    ori t0, t0, 1             # vectored mode
    csrw mtvec, t0
    li t1, 0x40000000         # nothing answers here on reel's board
load_at:
    lw t2, 8(t1)              # load access fault
store_at:
    sw t2, 12(t1)             # store access fault
    addi t3, t1, 16
    jalr ra, 0(t3)            # fetch access fault: the handler comes back to ra
    # the timer: mtimecmp = now, then enable MTIE and MIE and wait
    li t0, 0x0200BFF8
    lw t1, 0(t0)
    li t0, 0x02004000
    sw zero, 4(t0)
    sw t1, 0(t0)
    li t0, 0x80
    csrs mie, t0
    csrsi mstatus, 8
1:  lw t0, count             # the interrupt may come before the wfi
    li t1, 4
    bge t0, t1, 2f
    wfi
    j 1b
2:  csrci mstatus, 8
    lw a0, count
    lw ra, 0(sp)
    addi sp, sp, 16
    ret

    .balign 64
vectors:
    j exception               # base: every exception
    .rept 6
    j unexpected
    .endr
    j timer                   # base + 0x1c: machine timer interrupt
    .rept 8
    j unexpected
    .endr

exception:
    li t6, 0
    j record
timer:
    li t6, 7
    li t5, 0x02004000         # mtimecmp = all ones: the interrupt is served
    li t4, -1
    sw t4, 4(t5)
    sw t4, 0(t5)
record:
    lw t5, count
    slli t4, t5, 4
    la t3, seen
    add t3, t3, t4
    csrr t4, mcause
    sw t4, 0(t3)
    csrr t4, mepc
    sw t4, 4(t3)
    csrr t4, mtval
    sw t4, 8(t3)
    sw t6, 12(t3)
    addi t5, t5, 1
    la t4, count
    sw t5, 0(t4)
    bnez t6, done             # an interrupt: return to where it came
    csrr t4, mcause
    li t3, 1
    bne t4, t3, skip
    csrw mepc, ra             # a fetch fault: back to the caller of the jump
    j done
skip:
    csrr t4, mepc
    addi t4, t4, 4
    csrw mepc, t4
done:
    mret
unexpected:
    li a0, 99
    j rt_exit

    .data
    .balign 4
count: .word 0
seen: .space 64
"""


@pytest.fixture(scope="module")
def elf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("faults")
    (folder / "faults.S").write_text(SOURCE)
    return build_guest([folder / "faults.S"], folder / "faults.elf")


@pytest.mark.parametrize("hot", [1, translate.HOT], ids=["compiled-at-once", "interpreted-until-hot"])
def test_access_faults_and_vectored_entry(elf: Path, hot: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(translate, "HOT", hot)
    machine = Machine(16 << 20, lambda b: None)
    program = parse(elf.read_bytes(), "faults")
    machine.load(program)
    assert machine.run(1_000_000) == "exit" and machine.exit_code == 4
    symbols = _symbols(elf)
    seen = [machine.bus.load(symbols["seen"] + 4 * i, 4) for i in range(16)]
    traps = [tuple(seen[i:i + 4]) for i in range(0, 16, 4)]
    assert [t[0] for t in traps] == [5, 7, 1, 0x80000007]
    assert [t[1] for t in traps[:3]] == [symbols["load_at"], symbols["store_at"], 0x40000010]  # fetch: the target
    assert [t[2] for t in traps[:3]] == [0x40000008, 0x4000000C, 0x40000010]
    assert [t[3] for t in traps] == [0, 0, 0, 7]  # exceptions enter at the base, the timer at base + 0x1c


def _symbols(elf: Path) -> dict[str, int]:
    nm = need_tool("riscv64-unknown-elf-nm")
    out = subprocess.run([nm, str(elf)], capture_output=True, text=True, check=True).stdout
    return {name: int(value, 16) for value, _, name in (line.split() for line in out.splitlines()
                                                          if len(line.split()) == 3)}


@pytest.mark.parametrize("size", [2, 4])
def test_an_access_running_past_the_end_of_ram_names_the_part_that_faulted(size: int) -> None:
    """The privileged spec: mtval of a misaligned access that faults holds
    the address of the portion that faulted; one that begins in RAM and
    runs past its end faults at the end (as QEMU reports it). One that
    begins outside RAM faults where it begins."""
    from actors.cpu.bus import RAM_BASE
    from actors.cpu.hart import Trap

    bus = Machine(16 << 20, lambda b: None).bus
    end = RAM_BASE + (16 << 20)
    for access in (lambda a: bus.load(a, size), lambda a: bus.store(a, size, 0)):
        with pytest.raises(Trap) as crossing:
            access(end - 1)
        assert crossing.value.tval == end
        with pytest.raises(Trap) as outside:
            access(end + 1)
        assert outside.value.tval == end + 1
