"""The cpu's side of the IDE window.

Most accesses are forwarded to the ide actor as they come (reads wait,
writes are posted). Two things are served here, to spare a message per
access on the paths where guests make many:

* PIO data: while the ide has offered a DRQ block (PioFill), data-register
  reads are served from it and one PioDrained reports it read; while it
  expects one (PioExpect), data-register writes are collected and posted in
  one PioData. A command or device-control write drops the block: the
  device abandons it too.
* Settled registers: when a command ends the ide sends a RegisterSnapshot
  (before the interrupt); until the guest writes a command or device control
  to that channel, or selects the other drive, reads of status, alternate
  status, error and bus-master status are answered from it, and bus-master
  writes are applied to it by the same rules the ide applies. Reading the
  status acknowledges the interrupt: the line is lowered here and an
  InterruptAck posted. So after a DMA completes, the guest's status reads
  cost no round trip.
* Bus-master start: the write that changes the start bit from 0 to 1 (the
  only one that starts the bus master) carries, in one DmaStart, the PRD
  table as it stands in guest memory and, for a memory-to-device transfer,
  the bytes it points to: what the device reads of guest memory is read at
  this instant, as the determinism contract wants of a write that starts
  DMA. So the write need not wait for an answer (the contract's reason not
  to post it): it is posted, which spares the cpu a wake-up per command,
  and pushed soon (``push``): at once when running directly; recording or
  replaying, in one frame with the checkpoint that a guest waiting for the
  transfer makes a few instructions later (actors.cpu.clocks). (A DmaStart
  that carries 64 KiB or more of a write's data is a bulk message: it
  leaves at once anyway.)
"""

from __future__ import annotations

import struct
from typing import Callable

import msgspec

from ..ide import registers as r
from ..schema import DmaStart, InterruptAck, PioData, PioDrained, PioExpect, PioFill, RegisterSnapshot
from . import isa
from .bus import RAM_BASE
from .hart import Trap
from .window import Call, RemoteWindow

PRD_TABLE_MAX = 65536  # bytes of PRD table read at most (8192 entries)


class IdeWindow(RemoteWindow):
    def __init__(self, peer: str, call: Call, send: Callable[[str, msgspec.Struct], None],
                 push: Callable[[], None], read_ram: Callable[[int, int], bytes],
                 lower_irq: Callable[[int], None], ram_end: int) -> None:
        super().__init__(r.WINDOW_BASE, r.WINDOW_SIZE, peer, call, send, frozenset())
        self.push = push  # a DmaStart is queued: see that it leaves soon (the cpu's clock says when)
        self.read_ram = read_ram
        self.ram_end = ram_end  # RAM is [RAM_BASE, ram_end)
        self.lower_irq = lower_irq
        self.settled: list[RegisterSnapshot | None] = [None] * r.CHANNELS
        self.prdt = [0] * r.CHANNELS
        self.started = [False] * r.CHANNELS  # the start bit as the guest last wrote it (only the guest changes it)
        self.fill: list[tuple[int, bytearray] | None] = [None] * r.CHANNELS
        self.expect: list[tuple[int, int, bytearray] | None] = [None] * r.CHANNELS
        self.expected = [0] * r.CHANNELS  # the last transfer a PioExpect named (transfers count from 1)

    # --- the guest's accesses ------------------------------------------------------

    def read(self, offset: int, size: int) -> int:
        area, channel, reg = r.locate(offset)
        if area == "task" and reg == r.DATA and self.fill[channel] is not None:
            return self._read_fill(channel, size)
        settled = self.settled[channel]
        if settled is not None:
            if area == "bm" and reg == r.BM_STATUS:
                return settled.bm_status
            if area == "task" and reg in (r.STATUS, r.ALT_STATUS, r.ERROR):
                if reg == r.STATUS and settled.pending:
                    settled.pending = False  # reading status acknowledges the interrupt
                    self.lower_irq(r.IRQ_LINE[channel])
                    self.send(self.peer, InterruptAck(channel))
                return settled.error if reg == r.ERROR else settled.status
        value = super().read(offset, size)
        if area == "task" and reg == r.DATA and self.fill[channel] is not None:
            self._served_by_device(channel, size)
        return value

    def write(self, offset: int, size: int, value: int) -> None:
        area, channel, reg = r.locate(offset)
        if area == "task":
            if reg == r.DATA and self.expect[channel] is not None:
                self._collect(channel, size, value)
                return
            if reg == r.COMMAND or reg == r.DEVICE_CONTROL and value & r.CTL_SRST:
                # A new command or a software reset ends the PIO transfer in
                # progress; any other device control write (nIEN, HOB) leaves
                # it alone, at the device as here.
                self.fill[channel] = self.expect[channel] = None
                self.settled[channel] = None
            elif reg == r.DEVICE_CONTROL:
                self.settled[channel] = None
            settled = self.settled[channel]
            if reg == r.DEVICE and settled is not None and bool(value & r.DEV_SLAVE) != settled.slave:
                self.settled[channel] = None
        elif area == "bm":
            settled = self.settled[channel]
            if r.is_prdt(reg):
                self.prdt[channel] = r.prdt_written(self.prdt[channel], reg, size, value)
            elif reg == r.BM_COMMAND:
                # Only a change of the start bit from 0 to 1 starts the bus
                # master (SFF-8038i; QEMU ignores a write that keeps it): a
                # second start, or a read-modify-write that keeps it set,
                # must not arm the next command with this command's table.
                starts = value & r.BMIC_START and not self.started[channel]
                self.started[channel] = bool(value & r.BMIC_START)
                if starts:
                    self.settled[channel] = None
                    self._start_dma(channel, value)
                    return
                if settled is not None:
                    settled.bm_status = r.bm_command_written(settled.bm_status, value)
            elif reg == r.BM_STATUS and settled is not None:
                settled.bm_status = r.bm_status_written(settled.bm_status, value)
        super().write(offset, size, value)

    def _read_fill(self, channel: int, size: int) -> int:
        transfer, data = self.fill[channel]  # type: ignore[misc]
        width = 4 if size == 4 else 2
        value = int.from_bytes(data[:width], "little")
        del data[:width]
        if not data:
            self.fill[channel] = None
            self.send(self.peer, PioDrained(channel, transfer))
        return value

    def _served_by_device(self, channel: int, size: int) -> None:
        """A data-register read went to the device and, while it waited,
        the block it read from came in (the device offered it as it took the
        command, before the read reached it: a guest that reads without
        waiting for DRQ). The device answered from its own copy of the block
        and took those bytes from it; so are they taken here, or the guest
        would read them twice. Should that empty the block, the device has
        seen it drained already."""
        _, data = self.fill[channel]  # type: ignore[misc]
        del data[:4 if size == 4 else 2]
        if not data:
            self.fill[channel] = None

    def _collect(self, channel: int, size: int, value: int) -> None:
        _, _, data = self.expect[channel]  # type: ignore[misc]
        width = 4 if size == 4 else 2
        data += (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
        self._collected(channel)

    def _collected(self, channel: int) -> None:
        """Post the block once every byte still missing is in."""
        transfer, length, data = self.expect[channel]  # type: ignore[misc]
        if len(data) >= length:
            self.expect[channel] = None
            self.send(self.peer, PioData(channel, transfer, bytes(data[:length])))

    def _start_dma(self, channel: int, command: int) -> None:
        table = self._prd_table(self.prdt[channel])
        regions = r.parse_prd(table)
        reach = self._reach(regions)
        data = b""
        if not command & r.BMIC_TO_MEMORY:
            # The bytes the regions hold, up to the first that is not RAM,
            # and no more than a command can take: a table whose end-of-table
            # bit is missing describes up to 8192 regions of 64 KiB.
            limit = r.MAX_TRANSFER if reach < 0 else min(reach, r.MAX_TRANSFER)
            data = b"".join(self.read_ram(a, n) for a, n in r.cut_prd(regions, limit))
        self.send(self.peer, DmaStart(channel, command, table, data, reach))
        self.push()

    def _prd_table(self, address: int) -> bytes:
        """The PRD table from guest memory, up to its end-of-table entry (or
        as much as is RAM: the device sees a short table and reports it)."""
        table = bytearray()
        while len(table) < PRD_TABLE_MAX:
            try:
                entry = self.read_ram(address + len(table), r.PRD_ENTRY)
            except ValueError:
                break
            table += entry
            if struct.unpack_from("<H", entry, 6)[0] & r.PRD_EOT:
                break
        return bytes(table)

    def _reach(self, regions: list[tuple[int, int]]) -> int:
        """Bytes of the PRD regions, from the first, that lie in RAM up to
        the first byte that does not (-1: every byte does)."""
        total = 0
        for address, length in regions:
            usable = self._in_ram(address, length)
            if usable < length:
                return total + usable
            total += length
        return -1

    def _in_ram(self, address: int, length: int) -> int:
        """How many bytes from ``address`` on, of ``length``, are RAM."""
        if not RAM_BASE <= address < self.ram_end:
            return 0
        return min(length, self.ram_end - address)

    # --- the device's PIO blocks (messages from the ide) ---------------------------

    def snapshot(self, msg: RegisterSnapshot) -> None:
        self.settled[msg.channel] = msg

    def pio_fill(self, msg: PioFill) -> None:
        self.fill[msg.channel] = (msg.transfer, bytearray(msg.data))

    def pio_expect(self, msg: PioExpect) -> None:
        held = self.expect[msg.channel]
        if msg.transfer != self.expected[msg.channel]:
            self.expected[msg.channel] = msg.transfer
            self.expect[msg.channel] = (msg.transfer, msg.length, bytearray())
        elif held is not None and held[0] == msg.transfer:
            # The ide took some of the block's first bytes itself (posted
            # before this side knew of the block): fewer are missing, or none.
            self.expect[msg.channel] = (msg.transfer, msg.length, held[2]) if msg.length else None
            if msg.length:
                self._collected(msg.channel)
        # (else the block was posted, or dropped by a command: nothing to do)


class AbsentIdeWindow:
    """The IDE window of a machine without disks: every access faults, as
    at any unmapped address, and the first is kept, so that the run can say
    why a disk guest trapped (its own trap handler says only mtval)."""

    BASE, SIZE = r.WINDOW_BASE, r.WINDOW_SIZE

    def __init__(self) -> None:
        self.first_access: int | None = None

    def read(self, offset: int, size: int) -> int:
        self._note(offset)
        raise Trap(isa.LOAD_ACCESS_FAULT, self.BASE + offset)

    def write(self, offset: int, size: int, value: int) -> None:
        self._note(offset)
        raise Trap(isa.STORE_ACCESS_FAULT, self.BASE + offset)

    def _note(self, offset: int) -> None:
        if self.first_access is None:
            self.first_access = self.BASE + offset
