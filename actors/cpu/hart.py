"""The hart's architectural state outside the integer registers: CSRs,
traps, interrupts, and the system instructions that touch them.

Machine mode only. The retired-instruction count (icount) is the hart's
clock: ``minstret`` and ``mcycle`` read it, and ``mtime`` is icount plus the
ticks that passed while the hart idled in ``wfi`` (see ``Clint``).
"""

from __future__ import annotations

from typing import Callable

from . import isa
from .isa import Insn

M32 = 0xFFFFFFFF

MSTATUS_MIE = 1 << 3
MSTATUS_MPIE = 1 << 7
MSTATUS_MPP = 3 << 11  # always machine mode: reads as 0b11
MIP_MSIP = 1 << 3
MIP_MTIP = 1 << 7
MIP_MEIP = 1 << 11
MIE_WRITABLE = MIP_MSIP | MIP_MTIP | MIP_MEIP

MISA = (1 << 30) | (1 << 8) | (1 << 12)  # MXL=32, I, M

# Interrupt priority order of the privileged spec: external, software, timer.
_PRIORITY = ((MIP_MEIP, isa.MACHINE_EXTERNAL_INTERRUPT), (MIP_MSIP, isa.MACHINE_SOFTWARE_INTERRUPT),
             (MIP_MTIP, isa.MACHINE_TIMER_INTERRUPT))


class Trap(Exception):
    """A synchronous exception: ``cause`` and ``tval`` as the spec defines
    them. The instruction that raised it does not retire."""

    def __init__(self, cause: int, tval: int = 0) -> None:
        super().__init__(f"trap cause {cause} tval {tval:#x}")
        self.cause = cause
        self.tval = tval


class Completed(Exception):
    """Raised by an instruction that did retire but after which the run loop
    must look again (an interrupt may be due, a device asked to stop, ...).
    ``next_pc`` is where execution continues (None: the next instruction)."""

    def __init__(self, reason: str, next_pc: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.next_pc = next_pc


class Hart:
    """CSRs and trap machinery. ``icount`` is a one-element list shared with
    translated code (which adds to it); ``mip_devices`` reports the device
    interrupt bits (MEIP, MTIP, MSIP) of the moment."""

    def __init__(self, icount: list[int], mip_devices: Callable[[], int], mtime: Callable[[], int]) -> None:
        self.icount = icount
        self.mip_devices = mip_devices
        self.mtime = mtime
        self.mstatus = MSTATUS_MPP
        self.mie = 0
        self.mtvec = 0
        self.mepc = 0
        self.mcause = 0
        self.mtval = 0
        self.mscratch = 0
        self.minstret_offset = 0  # minstret = icount + offset (the guest may write it)
        self.mcycle_offset = 0

    # --- interrupts and traps ------------------------------------------------

    def mip(self) -> int:
        return self.mip_devices()

    def interrupt_due(self) -> int | None:
        """The cause of the interrupt to take now, if any."""
        if not self.mstatus & MSTATUS_MIE:
            return None
        pending = self.mip() & self.mie
        for bit, cause in _PRIORITY:
            if pending & bit:
                return cause
        return None

    def may_wake(self) -> bool:
        """WFI resumes when an enabled interrupt is pending, whatever MIE."""
        return bool(self.mip() & self.mie)

    def trap(self, cause: int, tval: int, pc: int) -> int:
        """Enter the trap handler; returns the new pc. ``pc`` is the faulting
        instruction (exceptions) or the next one to run (interrupts)."""
        self.mepc = pc
        self.mcause = cause
        self.mtval = tval & M32
        mie = self.mstatus & MSTATUS_MIE
        self.mstatus = (self.mstatus & ~(MSTATUS_MIE | MSTATUS_MPIE)) | (MSTATUS_MPIE if mie else 0) | MSTATUS_MPP
        base = self.mtvec & ~3
        if self.mtvec & 3 == 1 and cause & isa.INTERRUPT:
            return (base + 4 * (cause & 0x3F)) & M32
        return base

    def mret(self) -> int:
        mpie = self.mstatus & MSTATUS_MPIE
        self.mstatus = (self.mstatus & ~MSTATUS_MIE) | (MSTATUS_MIE if mpie else 0) | MSTATUS_MPIE | MSTATUS_MPP
        return self.mepc

    # --- CSRs ---------------------------------------------------------------

    def _minstret(self) -> int:
        return self.icount[0] + self.minstret_offset

    def _mcycle(self) -> int:
        return self.icount[0] + self.mcycle_offset

    def _set_mstatus(self, v: int) -> None:
        self.mstatus = (v & (MSTATUS_MIE | MSTATUS_MPIE)) | MSTATUS_MPP

    def _set_mtvec(self, v: int) -> None:
        # Direct (0) and vectored (1) modes. A write asking for a reserved
        # mode is ignored, as on QEMU (WARL lets a hart do either that or
        # some legal value; a guest can tell which).
        if v & 3 < 2:
            self.mtvec = v

    def _set_lo(self, name: str, v: int) -> None:
        self._set_counter(name, lambda after: (after & ~M32) | v)

    def _set_hi(self, name: str, v: int) -> None:
        self._set_counter(name, lambda after: (v << 32) | (after & M32))

    def _set_counter(self, name: str, written: Callable[[int], int]) -> None:
        """A CSR write to half of a counter. The spec orders the writing
        instruction's own retirement before its write ("a value written to
        instret by one instruction will be the value read by the following
        instruction"), so the half not written keeps the count *after* that
        retirement, and the next instruction reads exactly what was
        written. (Counters move with icount: offset = value - icount.)"""
        after = getattr(self, "_" + name)() + 1  # the count once the writer has retired
        offset = getattr(self, name + "_offset")
        setattr(self, name + "_offset", offset + written(after) - after)

    _readers: dict[int, Callable[[Hart], int]] = {
        0x300: lambda h: h.mstatus,
        0x301: lambda h: MISA,
        0x304: lambda h: h.mie,
        0x305: lambda h: h.mtvec,
        0x340: lambda h: h.mscratch,
        0x341: lambda h: h.mepc,
        0x342: lambda h: h.mcause,
        0x343: lambda h: h.mtval,
        0x344: lambda h: h.mip(),
        0xF11: lambda h: 0,  # mvendorid
        0xF12: lambda h: 0,  # marchid
        0xF13: lambda h: 0,  # mimpid
        0xF14: lambda h: 0,  # mhartid
        0xF15: lambda h: 0,  # mconfigptr (privileged spec 1.12): no configuration structure
        0xB00: lambda h: h._mcycle(),
        0xB80: lambda h: h._mcycle() >> 32,
        0xB02: lambda h: h._minstret(),
        0xB82: lambda h: h._minstret() >> 32,
        0xC00: lambda h: h._mcycle(),  # cycle
        0xC80: lambda h: h._mcycle() >> 32,
        0xC02: lambda h: h._minstret(),  # instret
        0xC82: lambda h: h._minstret() >> 32,
        0xC01: lambda h: h.mtime(),  # time
        0xC81: lambda h: h.mtime() >> 32,
    }
    _writers: dict[int, Callable[[Hart, int], None]] = {
        0x300: _set_mstatus,
        0x301: lambda h, v: None,  # misa: WARL, fixed
        0x304: lambda h, v: setattr(h, "mie", v & MIE_WRITABLE),
        0x305: _set_mtvec,
        0x340: lambda h, v: setattr(h, "mscratch", v),
        0x341: lambda h, v: setattr(h, "mepc", v & ~3),
        0x342: lambda h, v: setattr(h, "mcause", v),
        0x343: lambda h, v: setattr(h, "mtval", v),
        0x344: lambda h, v: None,  # mip: MEIP/MTIP/MSIP come from devices
        0xB00: lambda h, v: h._set_lo("mcycle", v),
        0xB80: lambda h, v: h._set_hi("mcycle", v),
        0xB02: lambda h, v: h._set_lo("minstret", v),
        0xB82: lambda h, v: h._set_hi("minstret", v),
    }

    # The counters and events this hart has no use for, which the privileged
    # spec lets it hardwire to zero (writes ignored): mhpmcounter3..31 and
    # their high halves, mhpmevent3..31, mcountinhibit, RV32's mstatush
    # (MBE and SBE: little-endian only); and the read-only user shadows
    # hpmcounter3..31. QEMU's virt cpu has them too: a guest may read them.
    # Likewise the PMP's pmpcfg0..15 and pmpaddr0..63: "all PMP CSR fields
    # are WARL and may be read-only zero", which is a hart with no PMP
    # entries; firmware that sets up PMP at boot (OpenSBI does) must not
    # trap on them.
    _ZEROS = (*range(0xB03, 0xB20), *range(0xB83, 0xBA0), *range(0x323, 0x340), 0x320, 0x310,
              *range(0x3A0, 0x3F0))  # pmpcfg0..15, then pmpaddr0..63
    _readers.update(dict.fromkeys((*_ZEROS, *range(0xC03, 0xC20), *range(0xC83, 0xCA0)), lambda h: 0))
    _writers.update(dict.fromkeys(_ZEROS, lambda h, v: None))

    # --- system instructions ----------------------------------------------------

    def csr_operation(self, insn: Insn, word: int) -> Callable[[int], int]:
        """CSR instruction ``insn`` (encoded as ``word``), decoded once, as a
        function of its source operand (rs1's value, or the immediate) that
        carries out the read and the write and returns the old value, for
        rd. An unknown CSR, or a write to a read-only one, raises illegal
        instruction when run, with the instruction's bits in mtval as for
        any other illegal instruction (as the instruction does not retire,
        reading it first changes nothing)."""
        op, rd, number = insn.op, insn.rd, insn.csr
        writes = csr_writes(insn)
        reads = not op.startswith("csrrw") or rd != 0
        reader, writer = self._readers.get(number), self._writers.get(number)
        if reader is None or (writes and writer is None):
            def illegal(operand: int) -> int:
                raise Trap(isa.ILLEGAL_INSTRUCTION, word)
            return illegal
        kind = op[:5]

        def run(operand: int) -> int:
            old = reader(self) & M32 if reads else 0
            if writes:
                new = operand if kind == "csrrw" else old | operand if kind == "csrrs" else old & ~operand
                writer(self, new & M32)  # type: ignore[misc]
            return old
        return run


INLINE_CSRS = frozenset({0x300, 0x301, 0x304, 0x305, 0x340, 0x341, 0x342, 0x343, 0xF11, 0xF12, 0xF13, 0xF14})
"""The CSRs a translated block accesses in line (see actors.cpu.translate):
mstatus, misa, mie, mtvec, mscratch, mepc, mcause, mtval and the ID
registers, whose values are the hart's own. Not the ones whose value moves
with icount, as it stands only at the start of a block: the counters,
``time``, and ``mip`` (its timer bit compares mtime with mtimecmp). Those
run alone, where icount is exact. Listed one by one, so that a CSR added
later runs alone until someone decides otherwise."""


def csr_writes(insn: Insn) -> bool:
    """Whether CSR instruction ``insn`` writes its CSR: csrrs/c with x0 or
    a zero immediate only read."""
    return insn.op.startswith("csrrw") or insn.rs1 != 0
