"""The cpu's side of the IDE window and the ide's controller wired together
in this process, for tests of what a guest sees through both: messages are
handed across in order as each side makes them, and the disk answers each
request at once from a byte array (or fails it, if told to)."""

from __future__ import annotations

import collections
import struct

import msgspec

from actors.cpu.bus import RAM_BASE
from actors.cpu.ide_window import IdeWindow
from actors.ide import registers as r
from actors.ide.controller import Controller
from actors.ide.drive import Drive
from actors.schema import (
    DmaScatter,
    DmaStart,
    InterruptAck,
    IrqLevel,
    MmioDone,
    MmioRead,
    MmioValue,
    MmioWrite,
    PioData,
    PioDrained,
    PioExpect,
    PioFill,
    RegisterSnapshot,
)


class Rig:
    """One channel-0 master of ``sectors`` sectors whose word k holds k
    (mod 2**16); RAM of ``ram`` bytes at RAM_BASE."""

    def __init__(self, sectors: int = 64, ram: int = 1 << 20) -> None:
        self.ram = bytearray(ram)
        self.content = bytearray(b"".join(struct.pack("<H", k & 0xFFFF) for k in range(256 * sectors)))
        self.to_cpu: collections.deque[msgspec.Struct] = collections.deque()
        self.to_ide: collections.deque[msgspec.Struct] = collections.deque()
        self.requests: collections.deque[tuple] = collections.deque()
        self.lines = {1: False, 2: False}
        self.fail_from = -1  # a read or write reaching this byte offset of the disk fails
        self.controller = Controller([Drive(sectors), None, None, None], self)
        self.window = IdeWindow("ide", self._call, lambda peer, msg: self.to_ide.append(msg), lambda: None,
                                self._read_ram, self._lower, RAM_BASE + ram)

    # --- the controller's effects ---------------------------------------------------

    def disk(self, drive: int, op: str, offset: int, length: int, data: bytes, tag: int) -> None:
        self.requests.append((op, offset, length, data, tag))

    def memory_write(self, ranges: list[tuple[int, int]], data: bytes) -> None:
        self.to_cpu.append(DmaScatter(ranges, data))

    def irq(self, line: int, high: bool) -> None:
        self.to_cpu.append(IrqLevel(line, high))

    def pio_fill(self, channel: int, transfer: int, data: bytes) -> None:
        self.to_cpu.append(PioFill(channel, transfer, data))

    def pio_expect(self, channel: int, transfer: int, length: int) -> None:
        self.to_cpu.append(PioExpect(channel, transfer, length))

    def snapshot(self, *fields: object) -> None:
        self.to_cpu.append(RegisterSnapshot(*fields))

    # --- the cpu's side -------------------------------------------------------------

    def _read_ram(self, address: int, length: int) -> bytes:
        offset = address - RAM_BASE
        if offset < 0 or offset + length > len(self.ram):
            raise ValueError("outside RAM")
        return bytes(self.ram[offset:offset + length])

    def _lower(self, line: int) -> None:
        self.lines[line] = False

    def _call(self, peer: str, msg: msgspec.Struct, reply: type) -> msgspec.Struct:
        self._to_ide()
        if isinstance(msg, MmioRead):
            return MmioValue(self.controller.read(msg.offset, msg.size))
        raise AssertionError(f"unexpected call {msg}")

    def _to_ide(self) -> None:
        c = self.controller
        while self.to_ide:
            m = self.to_ide.popleft()
            if isinstance(m, MmioWrite):
                c.write(m.offset, m.size, m.value)
            elif isinstance(m, DmaStart):
                c.dma_start(m.channel, m.command, m.prd, m.data, m.reach)
            elif isinstance(m, PioDrained):
                c.pio_drained(m.channel, m.transfer)
            elif isinstance(m, PioData):
                c.pio_data(m.channel, m.transfer, m.data)
            elif isinstance(m, InterruptAck):
                c.interrupt_acknowledged(m.channel)
            else:
                raise AssertionError(f"unexpected message to the ide: {m}")

    def _to_cpu(self) -> None:
        while self.to_cpu:
            m = self.to_cpu.popleft()
            if isinstance(m, RegisterSnapshot):
                self.window.snapshot(m)
            elif isinstance(m, PioFill):
                self.window.pio_fill(m)
            elif isinstance(m, PioExpect):
                self.window.pio_expect(m)
            elif isinstance(m, IrqLevel):
                self.lines[m.line] = m.high
            elif isinstance(m, DmaScatter):
                offset = 0
                for address, length in m.ranges:
                    self.ram[address - RAM_BASE:address - RAM_BASE + length] = m.data[offset:offset + length]
                    offset += length

    def _answer_disk(self) -> None:
        while self.requests:
            op, offset, length, data, tag = self.requests.popleft()
            end = offset + (len(data) if op == "write" else length)
            ok = not (op in ("read", "write") and offset <= self.fail_from < end)
            if op == "read":
                self.controller.disk_done(tag, ok, bytes(self.content[offset:offset + length]) if ok else b"")
            else:
                if op == "write" and ok:
                    self.content[offset:offset + len(data)] = data
                self.controller.disk_done(tag, ok)

    def settle(self) -> None:
        """Deliver everything in flight, both ways, and answer the disk."""
        while self.to_ide or self.to_cpu or self.requests:
            self._to_ide()
            self._answer_disk()
            self._to_cpu()

    # --- the guest's accesses ---------------------------------------------------------

    def read(self, reg: int, size: int = 1) -> int:
        self.settle()
        return self.window.read(r.TASK_FILE[0] + reg, size)

    def write(self, reg: int, value: int, size: int = 1) -> None:
        self.settle()
        self.window.write(r.TASK_FILE[0] + reg, size, value)

    def command(self, command: int, lba: int, count: int) -> None:
        """An LBA28 command for the master."""
        for reg, value in ((r.SECTOR_COUNT, count), (r.LBA_LOW, lba), (r.LBA_MID, lba >> 8),
                           (r.LBA_HIGH, lba >> 16), (r.DEVICE, 0xE0 | (lba >> 24 & 0xF)), (r.COMMAND, command)):
            self.write(reg, value & 0xFF)

    def sector(self, lba: int) -> list[int]:
        return list(struct.unpack("<256H", self.content[lba * 512:(lba + 1) * 512]))
