"""The board's devices that live inside the cpu actor: the exit device, the
CLINT, the PLIC and the UART (addresses as on QEMU's ``virt``).

A device answers ``read(offset, size)`` and ``write(offset, size, value)``
for accesses inside its window. A write after which the run loop must look
again (the guest exits, a timer is re-armed) raises ``Completed``.
"""

from __future__ import annotations

import collections
from typing import Callable

from .hart import MIP_MEIP, MIP_MSIP, MIP_MTIP, Completed

M64 = (1 << 64) - 1


class ExitDevice:
    """0x100000 (QEMU's sifive_test): write 0x5555 to pass, (code << 16) |
    0x3333 to fail with code."""

    BASE, SIZE = 0x0010_0000, 0x1000

    def __init__(self) -> None:
        self.code: int | None = None

    def read(self, offset: int, size: int) -> int:
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if offset != 0:
            return
        if value & 0xFFFF == 0x5555:
            self.code = 0
        elif value & 0xFFFF == 0x3333:
            self.code = value >> 16
        else:
            return
        raise Completed("exit")


class Clint:
    """0x2000000: msip, mtimecmp and mtime for hart 0. ``mtime`` is the
    hart's exact icount (``icount`` plus ``in_block``, what a running block
    has retired so far) plus ``idle_ticks``, the ticks skipped while it idled."""

    BASE, SIZE = 0x0200_0000, 0x1_0000
    MSIP, MTIMECMP, MTIME = 0x0, 0x4000, 0xBFF8

    def __init__(self, icount: list[int], in_block: list[int]) -> None:
        self.icount = icount
        self.in_block = in_block
        self.idle_ticks = 0
        self.mtimecmp = M64
        self.msip = 0

    def mtime(self) -> int:
        return (self.icount[0] + self.in_block[0] + self.idle_ticks) & M64

    def mip(self) -> int:
        return (MIP_MTIP if self.mtime() >= self.mtimecmp else 0) | (MIP_MSIP if self.msip else 0)

    def deadline_icount(self) -> int | None:
        """The icount at which mtime reaches mtimecmp (None: never); now,
        if it has. Counted from mtime as it reads, which wraps past 2**64:
        once it has wrapped, mtimecmp lies ahead again (as ``mip`` says)."""
        if self.mtimecmp == M64:
            return None
        now = self.mtime()
        return self.icount[0] + self.in_block[0] + max(0, self.mtimecmp - now)

    def read(self, offset: int, size: int) -> int:
        for base, value in ((self.MSIP, self.msip), (self.MTIMECMP, self.mtimecmp), (self.MTIME, self.mtime())):
            if base <= offset < base + (4 if base == self.MSIP else 8):
                return (value >> (8 * (offset - base))) & ((1 << (8 * size)) - 1)
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if offset == self.MSIP:
            self.msip = value & 1
        elif self.MTIMECMP <= offset < self.MTIMECMP + 8:
            self.mtimecmp = _merge(self.mtimecmp, offset - self.MTIMECMP, size, value)
        elif self.MTIME <= offset < self.MTIME + 8:
            self.idle_ticks += _merge(self.mtime(), offset - self.MTIME, size, value) - self.mtime()
        else:
            return
        raise Completed("timer")  # an interrupt may be due, or a deadline moved


def _merge(old: int, shift_bytes: int, size: int, value: int) -> int:
    mask = ((1 << (8 * size)) - 1) << (8 * shift_bytes)
    return (old & ~mask | (value << (8 * shift_bytes)) & mask) & M64


class Plic:
    """0xC000000: a PLIC subset for hart 0's M-mode context, as on QEMU's
    ``virt``: priorities (+4*source), pending bits (+0x1000), enables
    (+0x2000), threshold (+0x200000), claim/complete (+0x200004). Sources are
    level-triggered: a source whose line is high becomes pending unless it is
    claimed and not yet completed."""

    BASE, SIZE = 0x0C00_0000, 0x0400_0000
    SOURCES = 32  # 1..31; 0 means "none"

    def __init__(self, changed: Callable[[], None]) -> None:
        self.changed = changed
        self.priority = [0] * self.SOURCES
        self.level = [False] * self.SOURCES
        self.pending = 0
        self.enabled = 0
        self.threshold = 0
        self.claimed = 0  # bit per source in service

    def set_level(self, source: int, high: bool) -> None:
        """A device's interrupt line."""
        if not 0 < source < self.SOURCES:
            raise ValueError(f"PLIC source {source} out of range 1..{self.SOURCES - 1}")
        self.level[source] = high
        self._update(source)

    def _update(self, source: int) -> None:
        bit = 1 << source
        if self.level[source] and not self.claimed & bit:
            self.pending |= bit
            if self.best():  # only a deliverable source can make an interrupt due; a falling line cannot
                self.changed()

    def best(self) -> int:
        """The pending, enabled source of highest priority above threshold."""
        best, best_priority = 0, self.threshold
        candidates = self.pending & self.enabled
        while candidates:  # lowest source first: on equal priority the lower id wins
            bit = candidates & -candidates
            candidates ^= bit
            source = bit.bit_length() - 1
            if self.priority[source] > best_priority:
                best, best_priority = source, self.priority[source]
        return best

    def mip(self) -> int:
        return MIP_MEIP if self.best() else 0

    def read(self, offset: int, size: int) -> int:
        if offset < 4 * self.SOURCES:
            return self.priority[offset // 4] if offset % 4 == 0 else 0
        if offset == 0x1000:
            return self.pending
        if offset == 0x2000:
            return self.enabled
        if offset == 0x20_0000:
            return self.threshold
        if offset == 0x20_0004:
            source = self.best()
            if source:
                self.pending &= ~(1 << source)
                self.claimed |= 1 << source
            return source
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if offset < 4 * self.SOURCES and offset % 4 == 0 and offset:
            self.priority[offset // 4] = value & 7
        elif offset == 0x2000:
            self.enabled = value & ~1
        elif offset == 0x20_0000:
            self.threshold = value & 7
        elif offset == 0x20_0004:
            if 0 < value < self.SOURCES and self.claimed & (1 << value):
                self.claimed &= ~(1 << value)
                self._update(value)
        else:
            return
        if self.best():
            raise Completed("plic")  # an interrupt may be due now; without a deliverable source none can be


class Uart:
    """0x10000000: a 16550 as QEMU's ``virt`` shows it to a driver, on PLIC
    source 10. Bytes written to THR go to ``output`` at once, so the
    transmitter is always empty (LSR THRE|TEMT) and its interrupt, once
    enabled, is raised again by every byte written; reading IIR while it
    is the reason clears it. Nothing is ever received, except in loopback
    (MCR bit 4), where what is written comes back to RBR instead of
    leaving, and MSR mirrors MCR's outputs. Not modelled: receive trigger
    levels and time-outs (a received byte interrupts at once), line status
    and modem status interrupts, overrun.

    Reset values as on QEMU: MCR = OUT2, MSR = DCD|DSR|CTS, IIR = no
    interrupt (bits 7:6 say whether FCR turned the FIFOs on)."""

    BASE, SIZE = 0x1000_0000, 0x100
    IRQ = 10  # its PLIC source on QEMU's virt
    RBR_THR, IER, IIR_FCR, LCR, MCR, LSR, MSR, SCR = range(8)
    LCR_DLAB = 0x80
    IER_RDI, IER_THRI = 0x01, 0x02
    IIR_NO_INT, IIR_THRI, IIR_RDI, IIR_FIFOS = 0x01, 0x02, 0x04, 0xC0
    LSR_DR, LSR_THRE_TEMT = 0x01, 0x60
    MCR_LOOP = 0x10
    MSR_IDLE = 0xB0  # DCD, DSR, CTS: a terminal is there and ready
    FIFO_BYTES = 16

    def __init__(self, output: Callable[[int], None], plic: Plic | None = None) -> None:
        self.output = output
        self.plic = plic
        self.ier = self.lcr = self.scr = self.divisor = self.rbr = 0
        self.mcr = 0x08  # OUT2
        self.fifos = False
        self.thr_ipending = False  # the transmitter's interrupt, until IIR reports it or IER drops it
        self.received: collections.deque[int] = collections.deque()  # loopback bytes not yet read
        self.line = False

    def _iir(self) -> int:
        if self.ier & self.IER_RDI and self.received:
            reason = self.IIR_RDI
        elif self.ier & self.IER_THRI and self.thr_ipending:
            reason = self.IIR_THRI
        else:
            reason = self.IIR_NO_INT
        return reason | (self.IIR_FIFOS if self.fifos else 0)

    def _msr(self) -> int:
        if not self.mcr & self.MCR_LOOP:
            return self.MSR_IDLE
        # loopback: RTS -> CTS, DTR -> DSR, OUT1 -> RI, OUT2 -> DCD
        m = self.mcr
        return (m & 2) << 3 | (m & 1) << 5 | (m & 4) << 4 | (m & 8) << 4

    def _update_line(self) -> None:
        """Drive the PLIC source from IIR. A line that rises where the PLIC
        can deliver it ends the block (``Completed``), so the interrupt is
        taken right after the access that raised it."""
        high = not self._iir() & self.IIR_NO_INT
        if high == self.line or self.plic is None:
            return
        self.line = high
        self.plic.set_level(self.IRQ, high)
        if high and self.plic.best():
            raise Completed("uart")

    def read(self, offset: int, size: int) -> int:
        dlab = self.lcr & self.LCR_DLAB
        if offset == self.RBR_THR:
            if dlab:
                return self.divisor & 0xFF
            if self.received:
                self.rbr = self.received.popleft()
                self._update_line()
            return self.rbr
        if offset == self.IER:
            return self.divisor >> 8 if dlab else self.ier
        if offset == self.IIR_FCR:
            iir = self._iir()
            if iir & 0x0F == self.IIR_THRI:  # reporting it is what clears it
                self.thr_ipending = False
                self._update_line()
            return iir
        if offset == self.LSR:
            return self.LSR_THRE_TEMT | (self.LSR_DR if self.received else 0)
        if offset == self.MSR:
            return self._msr()
        return {self.LCR: self.lcr, self.MCR: self.mcr, self.SCR: self.scr}.get(offset, 0)

    def write(self, offset: int, size: int, value: int) -> None:
        value &= 0xFF
        dlab = self.lcr & self.LCR_DLAB
        if offset == self.RBR_THR and dlab:
            self.divisor = (self.divisor & 0xFF00) | value
        elif offset == self.RBR_THR:
            self._transmit(value)
        elif offset == self.IER and dlab:
            self.divisor = (self.divisor & 0xFF) | (value << 8)
        elif offset == self.IER:
            enabled = value & ~self.ier & self.IER_THRI
            self.ier = value & 0x0F
            if enabled or not self.ier & self.IER_THRI:
                self.thr_ipending = bool(enabled)  # enabled with THR empty: due at once
        elif offset == self.IIR_FCR:
            self.fifos = bool(value & 1)
            if value & 2:
                self.received.clear()
        elif offset == self.LCR:
            self.lcr = value
        elif offset == self.MCR:
            self.mcr = value & 0x1F
        elif offset == self.SCR:
            self.scr = value
        else:
            return
        self._update_line()

    def _transmit(self, byte: int) -> None:
        if self.mcr & self.MCR_LOOP:
            if len(self.received) < (self.FIFO_BYTES if self.fifos else 1):
                self.received.append(byte)
        else:
            self.output(byte)
        self.thr_ipending = True  # sent at once: empty again
