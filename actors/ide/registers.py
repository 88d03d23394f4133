"""The IDE window's register layout and the ATA constants, shared by the
ide actor and the cpu's side of the window.

Offsets from the window base 0x10001000 (see ../shared/ARCHITECTURE.md):
channel 0's task file at 0x000-0x00E, channel 1's at 0x100-0x10E; the
bus-master registers (SFF-8038i) of channel 0 at 0x200, of channel 1 at
0x208. Byte registers sit one byte apart, like PC I/O ports; the data
register is 16 bits wide and a 32-bit access moves two words.
"""

from __future__ import annotations

import functools
import struct

WINDOW_BASE = 0x1000_1000
WINDOW_SIZE = 0x1000
CHANNELS = 2
TASK_FILE = (0x000, 0x100)  # channel -> base of its task file
BUS_MASTER = (0x200, 0x208)  # channel -> base of its bus-master registers
IRQ_LINE = (1, 2)  # channel -> PLIC source

# Task-file registers (offset from the channel's base).
DATA = 0x0
ERROR = FEATURES = 0x1
SECTOR_COUNT = 0x2
LBA_LOW = 0x3
LBA_MID = 0x4
LBA_HIGH = 0x5
DEVICE = 0x6
STATUS = COMMAND = 0x7
ALT_STATUS = DEVICE_CONTROL = 0xE

# Bus-master registers (offset from the channel's bus-master base).
BM_COMMAND = 0x0
BM_STATUS = 0x2
BM_PRDT = 0x4

BMIC_START = 0x01
BMIC_TO_MEMORY = 0x08  # the device writes memory (READ DMA)
BMIS_ACTIVE = 0x01
BMIS_ERROR = 0x02
BMIS_INTERRUPT = 0x04
BMIS_DRIVE0_DMA = 0x20
BMIS_DRIVE1_DMA = 0x40

# Status and error bits.
BSY = 0x80
DRDY = 0x40
DF = 0x20
DSC = 0x10
DRQ = 0x08
ERR = 0x01
ABRT = 0x04
IDNF = 0x10
UNC = 0x40

# Device register and device control.
DEV_LBA = 0x40
DEV_SLAVE = 0x10
CTL_NIEN = 0x02
CTL_SRST = 0x04
CTL_HOB = 0x80

SECTOR = 512
PRD_ENTRY = 8
PRD_EOT = 0x8000
MAX_TRANSFER = 65536 * SECTOR
"""The most one command moves (LBA48's count of 0 asks for 65536 sectors)."""


def parse_prd(table: bytes) -> list[tuple[int, int]]:
    """(address, length) of each PRD entry up to the end-of-table bit. Bit
    0 of both the address and the count is reserved (SFF-8038i: regions are
    whole 16-bit words) and read as 0; a count of 0 means 64 KiB."""
    entries = []
    for i in range(0, len(table) - len(table) % PRD_ENTRY, PRD_ENTRY):
        address, count, flags = struct.unpack_from("<IHH", table, i)
        entries.append((address & ~1, count & 0xFFFE or 0x10000))
        if flags & PRD_EOT:
            break
    return entries


def cut_prd(entries: list[tuple[int, int]], reach: int) -> list[tuple[int, int]]:
    """The regions of ``entries`` within their first ``reach`` bytes (the
    last one shortened to end there)."""
    out, total = [], 0
    for address, length in entries:
        if total + length > reach:
            if reach > total:
                out.append((address, reach - total))
            break
        out.append((address, length))
        total += length
    return out


@functools.cache  # both sides ask on every register access, of a few offsets
def locate(offset: int) -> tuple[str, int, int]:
    """("task"|"bm"|"none", channel, register offset) for a window offset."""
    for channel in range(CHANNELS):
        base = TASK_FILE[channel]
        if base <= offset < base + 0x10:
            return "task", channel, offset - base
        base = BUS_MASTER[channel]
        if base <= offset < base + 8:
            return "bm", channel, offset - base
    return "none", 0, 0


def is_prdt(reg: int) -> bool:
    """Whether bus-master register offset ``reg`` is a byte of the PRD table address."""
    return BM_PRDT <= reg < BM_PRDT + 4


def prdt_written(prdt: int, reg: int, size: int, value: int) -> int:
    """The PRD table address after a write of ``size`` bytes at register
    offset ``reg``: only those bytes change (a driver may write it in
    halves, as QEMU takes), and bits 1:0 stay 0 (the table is dword aligned)."""
    shift = 8 * (reg - BM_PRDT)
    mask = ((1 << (8 * size)) - 1) << shift & 0xFFFFFFFF
    return (prdt & ~mask | (value << shift) & mask) & ~3


def prdt_read(prdt: int, reg: int, size: int) -> int:
    return prdt >> (8 * (reg - BM_PRDT)) & ((1 << (8 * size)) - 1)


def bm_command_written(status: int, value: int) -> int:
    """Bus-master status after the guest writes ``value`` to the bus-master
    command register: stopping the engine clears ``active``."""
    return status if value & BMIC_START else status & ~BMIS_ACTIVE


def bm_status_written(status: int, value: int) -> int:
    """Bus-master status after the guest writes ``value`` to it: error and
    interrupt are cleared by writing 1, the drive DMA bits take the value."""
    cleared = status & (BMIS_ERROR | BMIS_INTERRUPT) & ~value
    return (status & BMIS_ACTIVE) | cleared | (value & (BMIS_DRIVE0_DMA | BMIS_DRIVE1_DMA))
