"""The cpu's side of the IDE window.

Most accesses are forwarded to the ide actor as they come (reads wait,
writes are posted). Two things are served here, to spare a message per
access on the paths where guests make many:

* PIO data: while the ide has offered a DRQ block (PioFill), data-register
  reads are served from it and one PioDrained reports it read; while it
  expects one (PioExpect), data-register writes are collected and posted in
  one PioData. A command or device-control write drops the block: the
  device abandons it too.
* Bus-master start: the write that sets the start bit carries, in one
  DmaStart, the PRD table as it stands in guest memory and, for a
  memory-to-device transfer, the bytes it points to. The cpu waits for the
  answer, so the device reads guest memory at this instant, as the
  determinism contract wants of a write that starts DMA.
"""

from __future__ import annotations

import struct
from typing import Callable

import msgspec

from ..ide import registers as r
from ..schema import DmaStart, MmioDone, PioData, PioDrained, PioExpect, PioFill
from .window import RemoteWindow

PRD_TABLE_MAX = 65536  # bytes of PRD table read at most (8192 entries)


class IdeWindow(RemoteWindow):
    def __init__(self, peer: str, call: Callable[..., msgspec.Struct], send: Callable[[str, msgspec.Struct], None],
                 read_ram: Callable[[int, int], bytes]) -> None:
        super().__init__(r.WINDOW_BASE, r.WINDOW_SIZE, peer, call, send, frozenset())
        self.read_ram = read_ram
        self.prdt = [0] * r.CHANNELS
        self.fill: list[tuple[int, bytearray] | None] = [None] * r.CHANNELS
        self.expect: list[tuple[int, int, bytearray] | None] = [None] * r.CHANNELS

    # --- the guest's accesses ------------------------------------------------------

    def read(self, offset: int, size: int) -> int:
        area, channel, reg = r.locate(offset)
        if area == "task" and reg == r.DATA and self.fill[channel] is not None:
            return self._read_fill(channel, size)
        return super().read(offset, size)

    def write(self, offset: int, size: int, value: int) -> None:
        area, channel, reg = r.locate(offset)
        if area == "task":
            if reg == r.DATA and self.expect[channel] is not None:
                self._collect(channel, size, value)
                return
            if reg in (r.COMMAND, r.DEVICE_CONTROL):
                self.fill[channel] = self.expect[channel] = None
        elif area == "bm":
            if reg == r.BM_PRDT:
                self.prdt[channel] = value & ~3
            elif reg == r.BM_COMMAND and value & r.BMIC_START:
                self._start_dma(channel, value)
                return
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

    def _collect(self, channel: int, size: int, value: int) -> None:
        transfer, length, data = self.expect[channel]  # type: ignore[misc]
        width = 4 if size == 4 else 2
        data += (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
        if len(data) >= length:
            self.expect[channel] = None
            self.send(self.peer, PioData(channel, transfer, bytes(data[:length])))

    def _start_dma(self, channel: int, command: int) -> None:
        table = self._prd_table(self.prdt[channel])
        data = b""
        if not command & r.BMIC_TO_MEMORY:
            data = self._gather(table)
        self.call(self.peer, DmaStart(channel, command, table, data), MmioDone)

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

    def _gather(self, table: bytes) -> bytes:
        """The bytes a PRD table points to (stops at the first range that is
        not RAM: the device sees a short transfer and reports it)."""
        from ..ide.controller import parse_prd

        out = bytearray()
        for address, length in parse_prd(table):
            try:
                out += self.read_ram(address, length)
            except ValueError:
                break
        return bytes(out)

    # --- the device's PIO blocks (messages from the ide) ---------------------------

    def pio_fill(self, msg: PioFill) -> None:
        self.fill[msg.channel] = (msg.transfer, bytearray(msg.data))

    def pio_expect(self, msg: PioExpect) -> None:
        self.expect[msg.channel] = (msg.transfer, msg.length, bytearray())
