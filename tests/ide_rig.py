"""The cpu's side of the IDE window and the ide's controller wired together
in this process, for tests of what a guest sees through both: messages are
handed across in order as each side makes them, and the disk answers each
request at once from a byte array."""

from __future__ import annotations

import collections
import struct

import msgspec

from actors.cpu.bus import RAM_BASE
from actors.cpu.ide_window import IdeWindow
from actors.ide import registers as r
from actors.ide.controller import Controller
from actors.ide.drive import Drive
from actors.schema import DmaScatter, IrqLevel, MmioRead, MmioValue, PioExpect, PioFill, RegisterSnapshot
from launch.inprocess import IdeEffects, to_controller


class Rig(IdeEffects):
    """One channel-0 master of ``sectors`` sectors whose word k holds k
    (mod 2**16); RAM of ``ram`` bytes at RAM_BASE."""

    def __init__(self, sectors: int = 64, ram: int = 1 << 20) -> None:
        super().__init__()
        self.ram = bytearray(ram)
        self.content = bytearray(b"".join(struct.pack("<H", k & 0xFFFF) for k in range(256 * sectors)))
        self.to_ide: collections.deque[msgspec.Struct] = collections.deque()
        self.lines = {1: False, 2: False}
        self.controller = Controller([Drive(sectors), None, None, None], self)
        self.window = IdeWindow("ide", self._call, lambda peer, msg: self.to_ide.append(msg), lambda: None,
                                self._read_ram, self._lower, RAM_BASE + ram)

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
        while self.to_ide:
            to_controller(self.controller, self.to_ide.popleft())

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

    def settle(self) -> None:
        """Deliver everything in flight, both ways, and answer the disk."""
        while self.to_ide or self.to_cpu or self.requests:
            self._to_ide()
            self.serve_requests(self.controller, self.content)
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
