"""One ATA disk: its size, identity, and the 512-byte IDENTIFY DEVICE block."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .registers import SECTOR

LBA28_MAX = 0x0FFF_FFFF
LBA48_SECTORS = 1 << 48  # the most sectors LBA48 addresses
# The CHS geometry IDENTIFY reports (as QEMU's for disks this size): what
# 28-bit commands with the LBA bit clear address.
# A disk smaller than two cylinders still reports two (as QEMU's
# hd_geometry_guess does): a geometry of 0 cylinders tells a driver that
# reads words 1, 3 and 6 that the disk holds nothing. CHS addresses past the
# disk's last sector fail with IDNF, as every address past it does.
HEADS, SECTORS_PER_TRACK, MIN_CYLINDERS, MAX_CYLINDERS = 16, 63, 2, 16383


def _ata_string(text: str, length: int) -> bytes:
    """An ATA identify string: ASCII, space padded, each word's bytes swapped."""
    raw = text.encode("ascii", "replace")[:length].ljust(length, b" ")
    return b"".join(raw[i + 1:i + 2] + raw[i:i + 1] for i in range(0, length, 2))


@dataclass
class Drive:
    """A disk of ``sectors`` 512-byte sectors, attached to a channel."""

    sectors: int
    serial: str = "REEL0001"
    model: str = "reel virtual disk"
    firmware: str = "0.1"
    multiword_dma_mode: int = 2  # selected by SET FEATURES
    ultra_dma_mode: int | None = None
    write_cache: bool = True
    status: int = 0
    error: int = 0
    features_seen: list[int] = field(default_factory=list)

    @property
    def size(self) -> int:
        return self.sectors * SECTOR

    @property
    def cylinders(self) -> int:
        """Of the CHS geometry IDENTIFY gives (words 1, 3, 6)."""
        return max(MIN_CYLINDERS, min(MAX_CYLINDERS, self.sectors // (HEADS * SECTORS_PER_TRACK)))

    def chs_to_lba(self, cylinder: int, head: int, sector: int) -> int | None:
        """The LBA of a CHS address in this geometry, None outside it
        (sectors count from 1)."""
        if not (cylinder < self.cylinders and head < HEADS and 1 <= sector <= SECTORS_PER_TRACK):
            return None
        return (cylinder * HEADS + head) * SECTORS_PER_TRACK + sector - 1

    @staticmethod
    def lba_to_chs(lba: int) -> tuple[int, int, int]:
        track, sector = divmod(lba, SECTORS_PER_TRACK)
        cylinder, head = divmod(track, HEADS)
        return cylinder, head, sector + 1

    def identify(self) -> bytes:
        """IDENTIFY DEVICE data as ATA/ATAPI-6 lays it out."""
        words = [0] * 256
        words[0] = 0x0040  # fixed device
        words[1], words[3], words[6] = self.cylinders, HEADS, SECTORS_PER_TRACK
        words[47] = 0x8000  # READ/WRITE MULTIPLE: not supported
        words[49] = 0x0300  # LBA and DMA supported
        words[50] = 0x4000
        words[53] = 0x0006  # words 64-70 and 88 are valid
        lba28 = min(self.sectors, LBA28_MAX)
        words[60], words[61] = lba28 & 0xFFFF, lba28 >> 16
        words[63] = 0x0007 | (0x0100 << self.multiword_dma_mode if self.ultra_dma_mode is None else 0)
        words[64] = 0x0003  # PIO modes 3 and 4
        words[65] = words[66] = words[67] = words[68] = 120
        words[80] = 0x007E  # ATA-1 .. ATA-6
        # Words 82-84 say what is supported, 85-87 what of it is enabled:
        # the write cache is supported always, enabled as SET FEATURES left it.
        words[82] = 0x4028  # NOP, write cache, power management
        words[83] = 0x7400  # bit 14 set; FLUSH CACHE EXT (13), FLUSH CACHE (12), LBA48 (10)
        words[84] = 0x4000
        words[85] = 0x4028 if self.write_cache else 0x4008
        words[86] = 0x3400  # enabled: FLUSH CACHE EXT, FLUSH CACHE, LBA48
        words[87] = 0x4000
        words[88] = 0x003F | ((0x0100 << self.ultra_dma_mode) if self.ultra_dma_mode is not None else 0)
        for i in range(4):
            words[100 + i] = (self.sectors >> (16 * i)) & 0xFFFF
        data = bytearray(struct.pack("<256H", *words))
        data[20:40] = _ata_string(self.serial, 20)
        data[46:54] = _ata_string(self.firmware, 8)
        data[54:94] = _ata_string(self.model, 40)
        data[510] = 0xA5
        data[511] = (-sum(data[:511])) & 0xFF  # the integrity word: all 512 bytes sum to 0
        return bytes(data)

    def set_transfer_mode(self, mode: int) -> bool:
        """SET FEATURES 03h: True if ``mode`` is one this drive has."""
        if mode >> 3 in (0, 1) and mode & 7 <= 4:  # PIO default / flow control modes
            return True
        if mode >> 3 == 4 and mode & 7 <= 2:  # multiword DMA 0-2
            self.multiword_dma_mode, self.ultra_dma_mode = mode & 7, None
            return True
        if mode >> 3 == 8 and mode & 7 <= 5:  # Ultra DMA 0-5
            self.ultra_dma_mode = mode & 7
            return True
        return False
