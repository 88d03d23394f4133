"""The physical address space: RAM and the memory-mapped devices.

Translated code reads and writes RAM itself through the views ``words``,
``halves`` and ``octets``; everything else (misaligned accesses, devices,
unmapped addresses) comes here, to ``load`` and ``store``.
"""

from __future__ import annotations

import mmap
import sys
from typing import Protocol

from . import isa
from .hart import Trap

RAM_BASE = 0x8000_0000
MAX_RAM_MIB = ((1 << 32) - RAM_BASE) >> 20  # RAM runs from RAM_BASE to the top of the 32-bit space at most

DEVICES_FROM = 0x800
"""Device windows lie in [DEVICES_FROM, RAM_BASE): nothing is mapped past
RAM's end, nor in the first 2 KiB. So an access that did not trap was to
an address below RAM's end, and its base register, whatever the offset
(-2048..2047) added to it, was at most RAM's end + 2047: translated code
leaves a sum with it unreduced (``address_bound``)."""


def address_bound(ram_size: int) -> int:
    """The largest value a base register can hold once an access through
    it did not trap (see DEVICES_FROM)."""
    return RAM_BASE + ram_size - 1 + 2048

if sys.byteorder != "little":  # the views below read guest memory natively
    raise ImportError("reel's RV32 interpreter needs a little-endian host")


class Device(Protocol):
    BASE: int
    SIZE: int

    def read(self, offset: int, size: int) -> int: ...

    def write(self, offset: int, size: int, value: int) -> None: ...


class _NoDevice:
    """A window no address falls in (``Bus._device`` before its first hit)."""

    BASE, SIZE = 0, 0

    def read(self, offset: int, size: int) -> int:
        raise AssertionError("no device")

    def write(self, offset: int, size: int, value: int) -> None:
        raise AssertionError("no device")


class Bus:
    """RAM at RAM_BASE and devices at their windows."""

    def __init__(self, ram_size: int, devices: list[Device]) -> None:
        if ram_size <= 0 or ram_size % 4096:
            raise ValueError(f"RAM size {ram_size} is not a positive multiple of 4 KiB")
        # Private anonymous memory, which the kernel zeroes page by page as
        # the guest first writes it (and reads from its one zero page until
        # then): a bytearray is zeroed whole at once (3 s for 2 GiB here, no
        # heartbeat meanwhile) and held whole in RSS. (mmap's default,
        # MAP_SHARED, gives each page read its own page: RSS grew by the RAM
        # size as the memory digest read it.)
        self.ram = mmap.mmap(-1, ram_size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self.ram_size = ram_size
        view = memoryview(self.ram)
        self.octets, self.halves, self.words = view, view.cast("H"), view.cast("I")
        self.devices: list[Device] = []
        self._last: Device = _NoDevice()
        for device in devices:
            self.attach(device)

    def attach(self, device: Device) -> None:
        """Add a device window (within [DEVICES_FROM, RAM_BASE), and
        overlapping no other)."""
        if device.BASE < RAM_BASE + self.ram_size and RAM_BASE < device.BASE + device.SIZE:
            raise ValueError(f"device window {device.BASE:#x} overlaps RAM at {RAM_BASE:#x}")
        if not DEVICES_FROM <= device.BASE <= device.BASE + device.SIZE <= RAM_BASE:
            raise ValueError(f"device window {device.BASE:#x} (+{device.SIZE:#x}) lies outside "
                             f"[{DEVICES_FROM:#x}, {RAM_BASE:#x}), where the board maps devices (translated code "
                             "takes every address that did not trap for one below RAM's end)")
        for other in self.devices:
            if device.BASE < other.BASE + other.SIZE and other.BASE < device.BASE + device.SIZE:
                raise ValueError(f"device window {device.BASE:#x} overlaps {other.BASE:#x}")
        self.devices = sorted([*self.devices, device], key=lambda d: d.BASE)

    def in_ram(self, address: int) -> bool:
        return 0 <= address - RAM_BASE < self.ram_size

    def fetch(self, pc: int) -> int:
        """The instruction word at ``pc``; only RAM holds code."""
        if pc & 3:
            raise Trap(isa.MISALIGNED_FETCH, pc)
        offset = pc - RAM_BASE
        if not 0 <= offset < self.ram_size:
            raise Trap(isa.FETCH_ACCESS_FAULT, pc)
        return self.words[offset >> 2]

    def _device(self, address: int, size: int) -> Device | None:
        last = self._last  # guests tend to access one device several times running
        if last.BASE <= address and address + size <= last.BASE + last.SIZE:
            return last
        for device in self.devices:
            if device.BASE <= address and address + size <= device.BASE + device.SIZE:
                self._last = device
                return device
        return None

    def _faulting(self, address: int, size: int) -> int:
        """mtval of an access that faults: the address of its portion that
        faulted (the privileged spec, for a misaligned one), which is the
        end of RAM for one that begins in RAM and runs past it."""
        offset = address - RAM_BASE
        return RAM_BASE + self.ram_size if 0 <= offset < self.ram_size else address

    def load(self, address: int, size: int) -> int:
        """A load the fast path did not take (misaligned, device, unmapped)."""
        offset = address - RAM_BASE
        if 0 <= offset and offset + size <= self.ram_size:
            return int.from_bytes(self.ram[offset:offset + size], "little")  # misaligned: carried out
        device = self._device(address, size)
        if device is None:
            raise Trap(isa.LOAD_ACCESS_FAULT, self._faulting(address, size))
        return device.read(address - device.BASE, size) & ((1 << (8 * size)) - 1)

    def store(self, address: int, size: int, value: int) -> None:
        offset = address - RAM_BASE
        if 0 <= offset and offset + size <= self.ram_size:
            self.ram[offset:offset + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
            return
        device = self._device(address, size)
        if device is None:
            raise Trap(isa.STORE_ACCESS_FAULT, self._faulting(address, size))
        device.write(address - device.BASE, size, value)

    def write_ram(self, address: int, data: bytes | memoryview) -> None:
        """Copy ``data`` into RAM (ELF loading, DMA); raises ValueError
        naming the range if it does not fit."""
        offset = address - RAM_BASE
        if not (0 <= offset and offset + len(data) <= self.ram_size):
            raise ValueError(f"[{address:#010x}, {address + len(data):#010x}) is outside RAM "
                             f"[{RAM_BASE:#010x}, {RAM_BASE + self.ram_size:#010x})")
        self.ram[offset:offset + len(data)] = data

    def scatter(self, ranges: list[tuple[int, int]], data: bytes | memoryview) -> None:
        """Copy ``data`` into RAM piece by piece, ``ranges`` being (address,
        length) in order (a DMA's scatter list); raises ValueError as
        ``write_ram`` does, the pieces before the bad one written."""
        view, offset = memoryview(data), 0
        for address, length in ranges:
            self.write_ram(address, view[offset:offset + length])
            offset += length

    def read_ram(self, address: int, length: int) -> bytes:
        offset = address - RAM_BASE
        if not (0 <= offset and offset + length <= self.ram_size):
            raise ValueError(f"[{address:#010x}, {address + length:#010x}) is outside RAM "
                             f"[{RAM_BASE:#010x}, {RAM_BASE + self.ram_size:#010x})")
        return bytes(self.ram[offset:offset + length])
