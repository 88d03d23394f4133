"""The cpu's side of the IDE window, driven without processes: the guest's
accesses go in, the messages it would send are recorded."""

from __future__ import annotations

import struct

import msgspec

from actors.cpu.bus import RAM_BASE
from actors.cpu.ide_window import IdeWindow
from actors.ide import registers as r
from actors.schema import DmaStart

from .ide_rig import Rig

RAM = 16 << 20


def window(ram: bytearray, sent: list[msgspec.Struct]) -> IdeWindow:
    def read_ram(address: int, length: int) -> bytes:
        offset = address - RAM_BASE
        if not (0 <= offset and offset + length <= len(ram)):
            raise ValueError("outside RAM")
        return bytes(ram[offset:offset + length])

    def call(peer: str, msg: msgspec.Struct, reply: type) -> msgspec.Struct:
        raise AssertionError(f"no synchronous exchange expected here: {msg}")

    return IdeWindow("ide", call, lambda peer, msg: sent.append(msg), lambda: None, read_ram,
                     lambda line: None, RAM_BASE + len(ram))


def test_a_prd_table_without_its_end_bit_gathers_no_more_than_a_command_can_take() -> None:
    """A write's data is read from guest memory as the bus master starts.
    A table whose end-of-table bit is missing goes on for 8192 entries of
    64 KiB (512 MiB): the window reads no more than a command can move
    (65536 sectors), however long the table."""
    ram = bytearray(RAM)
    table = struct.pack("<IHH", RAM_BASE, 0, 0) * 1024  # 64 MiB described, no end bit
    ram[0x10000:0x10000 + len(table)] = table
    sent: list[msgspec.Struct] = []
    w = window(ram, sent)
    w.write(r.BUS_MASTER[0] + r.BM_PRDT, 4, RAM_BASE + 0x10000)
    w.write(r.BUS_MASTER[0] + r.BM_COMMAND, 1, r.BMIC_START)  # memory to device: a write
    start = next(m for m in sent if isinstance(m, DmaStart))
    assert len(start.data) == r.MAX_TRANSFER
    assert start.data[:len(table)] == bytes(ram[:len(table)])  # the regions' bytes, in order, from the first


def test_prd_counts_are_whole_words() -> None:
    """SFF-8038i: bit 0 of a region's byte count is reserved, as is bit 0
    of its address; a count of 0 means 64 KiB."""
    def entry(address: int, count: int) -> bytes:
        return struct.pack("<IHH", address, count, r.PRD_EOT)

    assert r.parse_prd(entry(0x80001001, 513)) == [(0x80001000, 512)]
    assert r.parse_prd(entry(0x80001000, 1)) == [(0x80001000, 0x10000)]
    assert r.parse_prd(entry(0x80001000, 0)) == [(0x80001000, 0x10000)]


def test_the_prd_table_address_may_be_written_in_halves() -> None:
    """Only the bytes written change (as QEMU takes it), at both ends of
    the window: the controller reads it back whole and by halves, and the
    cpu's side reads the table from the address the halves make."""
    from actors.ide import Controller, Drive

    class NoEffects:
        def __getattr__(self, name: str):  # every effect is ignored here
            return lambda *args: None

    ide = Controller([Drive(16), None, None, None], NoEffects())
    prdt = r.BUS_MASTER[0] + r.BM_PRDT
    ide.write(prdt, 2, 0x0753)  # bits 1:0 read as 0
    ide.write(prdt + 2, 2, 0x8000)
    assert ide.read(prdt, 4) == 0x80000750 and ide.read(prdt + 2, 2) == 0x8000

    ram = bytearray(RAM)
    ram[0x750:0x758] = struct.pack("<IHH", RAM_BASE + 0x1000, 512, r.PRD_EOT)
    sent: list[msgspec.Struct] = []
    w = window(ram, sent)
    w.write(prdt, 2, 0x0750)
    w.write(prdt + 2, 2, 0x8000)
    w.write(r.BUS_MASTER[0] + r.BM_COMMAND, 1, r.BMIC_START | r.BMIC_TO_MEMORY)
    start = next(m for m in sent if isinstance(m, DmaStart))
    assert r.parse_prd(start.prd) == [(RAM_BASE + 0x1000, 512)]


def test_a_device_control_write_in_the_middle_of_a_pio_sector_leaves_the_transfer_alone() -> None:
    """nIEN (or HOB) toggled while DRQ is up: the cpu's side dropped its
    copy of the sector, the device kept its own, and both directions came
    apart (reads started the sector again, writes lost their first half)."""
    rig = Rig()
    rig.command(0x20, 3, 1)  # READ SECTORS
    words = [rig.read(r.DATA, 2) for _ in range(128)]
    rig.write(r.DEVICE_CONTROL, r.CTL_NIEN)
    words += [rig.read(r.DATA, 2) for _ in range(128)]
    assert words == rig.sector(3)
    assert not rig.read(r.STATUS) & r.DRQ
    rig.write(r.DEVICE_CONTROL, 0)
    rig.command(0x30, 5, 1)  # WRITE SECTORS
    for k in range(256):
        if k == 128:
            rig.write(r.DEVICE_CONTROL, r.CTL_NIEN)
        rig.write(r.DATA, 0xA000 + k, 2)
    assert rig.read(r.STATUS) == r.DRDY | r.DSC
    assert rig.sector(5) == [0xA000 + k for k in range(256)]


def test_a_software_reset_in_the_middle_of_a_pio_sector_ends_the_transfer() -> None:
    rig = Rig()
    rig.command(0x20, 3, 1)
    [rig.read(r.DATA, 2) for _ in range(16)]
    rig.write(r.DEVICE_CONTROL, r.CTL_SRST)
    rig.write(r.DEVICE_CONTROL, 0)
    assert not rig.read(r.STATUS) & r.DRQ
    rig.command(0x20, 4, 1)
    assert [rig.read(r.DATA, 2) for _ in range(256)] == rig.sector(4)


def test_a_28_bit_command_may_address_by_cylinder_head_and_sector() -> None:
    """With the LBA bit clear, in the geometry IDENTIFY gives (16 heads, 63
    sectors a track), as QEMU has it; it was aborted. The registers then say
    where the command ended, in CHS; sector 0 does not exist; the 48-bit
    commands take LBA only."""
    rig = Rig(sectors=4096)
    for reg, value in ((r.SECTOR_COUNT, 2), (r.LBA_LOW, 5), (r.LBA_MID, 1), (r.LBA_HIGH, 0), (r.DEVICE, 0xA2),
                       (r.COMMAND, 0x20)):
        rig.write(reg, value)
    lba = (1 * 16 + 2) * 63 + 5 - 1
    words = [rig.read(r.DATA, 2) for _ in range(512)]
    assert words == rig.sector(lba) + rig.sector(lba + 1)
    assert rig.read(r.STATUS) == r.DRDY | r.DSC
    assert [rig.read(reg) for reg in (r.SECTOR_COUNT, r.LBA_LOW, r.LBA_MID, r.LBA_HIGH, r.DEVICE)] == [0, 7, 1, 0, 0xA2]
    for sector, command, error in ((0, 0x20, r.IDNF), (5, 0x24, r.ABRT)):
        rig.write(r.LBA_LOW, sector)
        rig.write(r.COMMAND, command)
        assert rig.read(r.STATUS) == r.DRDY | r.ERR and rig.read(r.ERROR) == error


def test_a_disk_smaller_than_two_cylinders_reports_two_and_refuses_chs_past_its_end() -> None:
    """A 64-sector disk reported 0 cylinders, which says to a driver that
    reads the geometry that the disk holds nothing; QEMU reports 2 at least.
    A CHS address inside those cylinders but past the disk's end is IDNF."""
    rig = Rig(sectors=64)
    rig.write(r.DEVICE, 0xA0 | r.DEV_LBA)
    rig.write(r.COMMAND, 0xEC)
    words = [rig.read(r.DATA, 2) for _ in range(256)]
    assert (words[1], words[3], words[6]) == (2, 16, 63)
    assert words[60] | words[61] << 16 == 64
    for head, sector, status in ((1, 1, r.DRDY | r.DSC | r.DRQ), (1, 2, r.DRDY | r.ERR)):  # LBA 63, then 64
        for reg, value in ((r.SECTOR_COUNT, 1), (r.LBA_LOW, sector), (r.LBA_MID, 0), (r.LBA_HIGH, 0),
                           (r.DEVICE, 0xA0 | head), (r.COMMAND, 0x20)):
            rig.write(reg, value)
        assert rig.read(r.STATUS) == status
        if status & r.DRQ:
            assert [rig.read(r.DATA, 2) for _ in range(256)] == rig.sector(63)
        else:
            assert rig.read(r.ERROR) == r.IDNF


def test_only_a_change_of_the_start_bit_from_0_to_1_starts_the_bus_master() -> None:
    """A second write with the start bit set (a read-modify-write that keeps
    it, say) sent a second DmaStart, which the ide kept for the next command:
    that command then transferred through this one's PRD table, with no
    start of its own (a helper's guest saw its next read land in the old
    buffer). Only 0 -> 1 starts; the bit is the guest's to clear."""
    from actors.schema import MmioWrite

    sent: list[msgspec.Struct] = []
    w = window(bytearray(RAM), sent)
    command = r.BUS_MASTER[0] + r.BM_COMMAND
    w.write(command, 1, r.BMIC_START | r.BMIC_TO_MEMORY)
    w.write(command, 1, r.BMIC_START | r.BMIC_TO_MEMORY)
    w.write(r.BUS_MASTER[1] + r.BM_COMMAND, 1, r.BMIC_START)  # the other channel's bit is its own
    w.write(command, 1, r.BMIC_TO_MEMORY)  # stopped ...
    w.write(command, 1, r.BMIC_START | r.BMIC_TO_MEMORY)  # ... and started again
    assert [(type(m).__name__, m.channel if isinstance(m, DmaStart) else m.value) for m in sent] == [
        ("DmaStart", 0), ("MmioWrite", r.BMIC_START | r.BMIC_TO_MEMORY), ("DmaStart", 1),
        ("MmioWrite", r.BMIC_TO_MEMORY), ("DmaStart", 0)]
    assert isinstance(sent[1], MmioWrite) and sent[1].offset == command
