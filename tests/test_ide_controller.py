"""The IDE controller's state machine, driven without processes: register
accesses and the device-side messages go in, the effects it asks for are
recorded and answered by hand."""

from __future__ import annotations

import struct

import pytest

from actors.ide import Controller, Drive
from actors.ide import registers as r

SECTORS = 16384  # an 8 MiB disk


class World:
    """Records the controller's effects; plays disk and cpu by hand."""

    def __init__(self) -> None:
        self.disk_requests: list[tuple[int, str, int, int, bytes, int]] = []
        self.memory: dict[int, bytes] = {}
        self.lines: dict[int, bool] = {1: False, 2: False}
        self.fills: list[tuple[int, int, bytes]] = []
        self.expects: list[tuple[int, int, int]] = []
        self.snapshots: list[tuple] = []
        self.to_memory: list[int] = []  # tags of the reads flagged to_memory
        self.memory_tags: list[int] = []  # the tag of each memory_write
        self.held: dict[int, bytes] = {}  # tag -> data of a read that completed without it

    def disk(self, drive: int, op: str, offset: int, length: int, data: bytes, tag: int,
             to_memory: bool = False) -> None:
        self.disk_requests.append((drive, op, offset, length, data, tag))
        if to_memory:
            self.to_memory.append(tag)

    def memory_write(self, ranges: list[tuple[int, int]], data: bytes, tag: int = -1) -> None:
        self.memory_tags.append(tag)
        if not data:  # the data of a to_memory read that came back without it: what the disk read
            data = self.held.pop(tag)
        offset = 0
        for address, length in ranges:
            self.memory[address] = bytes(data[offset:offset + length])
            offset += length

    def irq(self, line: int, high: bool) -> None:
        assert self.lines[line] != high, "the controller reported a line change that is no change"
        self.lines[line] = high

    def pio_fill(self, channel: int, transfer: int, data: bytes) -> None:
        self.fills.append((channel, transfer, bytes(data)))

    def pio_expect(self, channel: int, transfer: int, length: int) -> None:
        self.expects.append((channel, transfer, length))

    def snapshot(self, channel: int, slave: bool, status: int, error: int, bm_status: int, pending: bool) -> None:
        self.snapshots.append((channel, slave, status, error, bm_status, pending))


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def ide(world: World) -> Controller:
    # drive slots: 0 = ch0 master, 1 = ch1 master, 2 = ch0 slave (absent), 3 = ch1 slave
    return Controller([Drive(SECTORS), Drive(SECTORS // 2), None, Drive(64)], world)


def task(channel: int, reg: int) -> int:
    return r.TASK_FILE[channel] + reg


def bm(channel: int, reg: int) -> int:
    return r.BUS_MASTER[channel] + reg


def issue(ide: Controller, opcode: int, lba: int = 0, count: int = 1, channel: int = 0, slave: bool = False,
          lba48: bool = False) -> None:
    if lba48:  # each register twice: the high-order byte, then the low-order one
        for reg, value, shift in ((r.SECTOR_COUNT, count, 8), (r.LBA_LOW, lba, 24), (r.LBA_MID, lba >> 8, 24),
                                  (r.LBA_HIGH, lba >> 16, 24)):
            ide.write(task(channel, reg), 1, (value >> shift) & 0xFF)
            ide.write(task(channel, reg), 1, value & 0xFF)
        ide.write(task(channel, r.DEVICE), 1, r.DEV_LBA | (r.DEV_SLAVE if slave else 0))
    else:
        ide.write(task(channel, r.SECTOR_COUNT), 1, count & 0xFF)
        ide.write(task(channel, r.LBA_LOW), 1, lba & 0xFF)
        ide.write(task(channel, r.LBA_MID), 1, (lba >> 8) & 0xFF)
        ide.write(task(channel, r.LBA_HIGH), 1, (lba >> 16) & 0xFF)
        ide.write(task(channel, r.DEVICE), 1, r.DEV_LBA | (r.DEV_SLAVE if slave else 0) | ((lba >> 24) & 0x0F))
    ide.write(task(channel, r.COMMAND), 1, opcode)


def status(ide: Controller, channel: int = 0) -> int:
    return ide.read(task(channel, r.STATUS), 1)


def alt_status(ide: Controller, channel: int = 0) -> int:
    return ide.read(task(channel, r.ALT_STATUS), 1)


def answer_disk(ide: Controller, world: World, ok: bool = True, fill: int | None = None) -> tuple:
    request = world.disk_requests.pop(0)
    drive, op, offset, length, data, tag = request
    payload = bytes([fill if fill is not None else (offset // 512) & 0xFF]) * length if op == "read" else b""
    ide.disk_done(tag, ok, payload)
    return request


# --- IDENTIFY -------------------------------------------------------------------


def test_identify_block_fields_and_checksum(ide: Controller, world: World) -> None:
    ide.write(task(0, r.DEVICE), 1, r.DEV_LBA)
    ide.write(task(0, r.COMMAND), 1, 0xEC)
    assert alt_status(ide) == r.DRDY | r.DSC | r.DRQ
    assert world.lines[1] is True  # PIO in: an interrupt with each DRQ block
    (channel, transfer, block), = world.fills
    words = struct.unpack("<256H", block)
    assert words[60] | words[61] << 16 == SECTORS
    assert sum(words[100 + i] << (16 * i) for i in range(4)) == SECTORS
    assert words[83] & (1 << 10) and words[86] & (1 << 10)  # LBA48 supported and enabled
    assert words[49] & 0x0300 == 0x0300  # LBA and DMA
    model = b"".join(struct.pack(">H", w) for w in words[27:47]).decode().strip()
    assert model == "reel virtual disk"
    assert block[510] == 0xA5 and sum(block) % 256 == 0
    assert status(ide) & r.DRQ and world.lines[1] is False  # reading status acknowledges
    ide.pio_drained(0, transfer)
    assert alt_status(ide) == r.DRDY | r.DSC and world.lines[1] is False  # no interrupt after the last block


def test_identify_through_the_data_register_without_a_proxy(ide: Controller, world: World) -> None:
    ide.write(task(0, r.DEVICE), 1, r.DEV_LBA)
    ide.write(task(0, r.COMMAND), 1, 0xEC)
    expected = world.fills[0][2]
    got = b"".join(ide.read(task(0, r.DATA), 4).to_bytes(4, "little") for _ in range(64))  # 32-bit: two words
    got += b"".join(ide.read(task(0, r.DATA), 2).to_bytes(2, "little") for _ in range(128))
    assert got == expected
    assert alt_status(ide) == r.DRDY | r.DSC  # drained by the last read


def test_an_absent_drive_reads_zero_and_ignores_commands(ide: Controller, world: World) -> None:
    ide.write(task(0, r.DEVICE), 1, r.DEV_LBA | r.DEV_SLAVE)
    assert status(ide) == 0
    ide.write(task(0, r.COMMAND), 1, 0xEC)
    assert world.fills == [] and world.lines[1] is False


# --- PIO ------------------------------------------------------------------------


def test_read_sectors_lba28_gives_one_block_per_sector(ide: Controller, world: World) -> None:
    issue(ide, 0x20, lba=100, count=2)
    assert alt_status(ide) & r.BSY
    drive, op, offset, length, _, _ = answer_disk(ide, world)
    assert (drive, op, offset, length) == (0, "read", 100 * 512, 1024)
    assert len(world.fills) == 1 and world.fills[0][2] == bytes([100 & 0xFF]) * 512
    assert status(ide) == r.DRDY | r.DSC | r.DRQ
    ide.pio_drained(0, world.fills[0][1])
    assert world.lines[1] is True and len(world.fills) == 2  # the second sector, with its interrupt
    ide.pio_drained(0, world.fills[1][1])
    assert status(ide) == r.DRDY | r.DSC


def test_read_sectors_ext_uses_48_bit_addresses(ide: Controller, world: World) -> None:
    big = Controller([Drive(1 << 33)], world)
    lba = 0x1_2345_6789
    issue(big, 0x24, lba=lba, count=0x0102, lba48=True)
    _, op, offset, length, _, _ = world.disk_requests[0]
    assert offset == lba * 512 and op == "read"
    assert length == 256 * 512  # the first chunk of 0x102 sectors


def test_hob_reads_back_the_high_order_bytes(ide: Controller) -> None:
    ide.write(task(0, r.DEVICE), 1, r.DEV_LBA)
    ide.write(task(0, r.LBA_LOW), 1, 0xAA)
    ide.write(task(0, r.LBA_LOW), 1, 0xBB)
    assert ide.read(task(0, r.LBA_LOW), 1) == 0xBB
    ide.write(task(0, r.DEVICE_CONTROL), 1, r.CTL_HOB)
    assert ide.read(task(0, r.LBA_LOW), 1) == 0xAA
    ide.write(task(0, r.LBA_LOW), 1, 0xCC)  # any task-file write clears HOB (ATA/ATAPI-6)
    assert ide.read(task(0, r.LBA_LOW), 1) == 0xCC


def test_write_sectors_asks_for_each_sector_and_interrupts_after_each_write(ide: Controller, world: World) -> None:
    issue(ide, 0x30, lba=7, count=2)
    assert world.lines[1] is False  # no interrupt before the first sector
    (_, transfer, length), = world.expects
    assert length == 512 and status(ide) == r.DRDY | r.DSC | r.DRQ
    ide.pio_data(0, transfer, b"\x01" * 512)
    assert alt_status(ide) & r.BSY
    _, op, offset, _, data, _ = answer_disk(ide, world)
    assert (op, offset, data) == ("write", 7 * 512, b"\x01" * 512)
    assert world.lines[1] is True and len(world.expects) == 2
    status(ide)
    ide.pio_data(0, world.expects[1][1], b"\x02" * 512)
    _, _, offset, _, data, _ = answer_disk(ide, world)
    assert offset == 8 * 512 and data == b"\x02" * 512
    assert world.lines[1] is True and alt_status(ide) == r.DRDY | r.DSC


def test_write_sectors_through_the_data_register(ide: Controller, world: World) -> None:
    issue(ide, 0x30, lba=1, count=1)
    for i in range(256):
        ide.write(task(0, r.DATA), 2, i)
    _, _, _, _, data, _ = world.disk_requests[0]
    assert data == b"".join(i.to_bytes(2, "little") for i in range(256))


# --- DMA ------------------------------------------------------------------------


def prd(*entries: tuple[int, int]) -> bytes:
    table = b""
    for i, (address, length) in enumerate(entries):
        flags = r.PRD_EOT if i == len(entries) - 1 else 0
        table += struct.pack("<IHH", address, length & 0xFFFF, flags)
    return table


def test_read_dma_scatters_into_the_prd_regions(ide: Controller, world: World) -> None:
    issue(ide, 0xC8, lba=10, count=3)
    assert alt_status(ide) & r.BSY and world.disk_requests == []  # waits for the bus master
    ide.dma_start(0, r.BMIC_START | r.BMIC_TO_MEMORY, prd((0x80001000, 1024), (0x80008000, 512)), b"")
    assert ide.read(bm(0, r.BM_STATUS), 1) & r.BMIS_ACTIVE
    _, op, offset, length, _, _ = answer_disk(ide, world, fill=0x5A)
    assert (op, offset, length) == ("read", 10 * 512, 1536)
    assert world.memory == {0x80001000: b"\x5a" * 1024, 0x80008000: b"\x5a" * 512}
    bmis = ide.read(bm(0, r.BM_STATUS), 1)
    assert bmis & r.BMIS_INTERRUPT and not bmis & (r.BMIS_ACTIVE | r.BMIS_ERROR)
    assert world.lines[1] is True and status(ide) == r.DRDY | r.DSC and world.lines[1] is False
    ide.write(bm(0, r.BM_STATUS), 1, r.BMIS_INTERRUPT)  # write 1 to clear
    assert not ide.read(bm(0, r.BM_STATUS), 1) & r.BMIS_INTERRUPT


def test_a_dma_read_may_complete_without_its_data(ide: Controller, world: World) -> None:
    """A DMA read is flagged to_memory (PIO reads are not: their data goes
    through the controller); a completion that comes back without its data
    still scatters the command's whole length, naming the request."""
    issue(ide, 0x20, lba=1, count=1, channel=1)  # PIO read
    answer_disk(ide, world)
    assert world.to_memory == []
    issue(ide, 0xC8, lba=10, count=3)
    ide.dma_start(0, r.BMIC_START | r.BMIC_TO_MEMORY, prd((0x80001000, 1024), (0x80008000, 512)), b"")
    (_, op, _, length, _, tag), = world.disk_requests
    assert (op, length) == ("read", 1536) and world.to_memory == [tag]
    world.held[tag] = b"\x11" * 1024 + b"\x22" * 512
    ide.disk_done(tag, True, b"")
    assert world.memory == {0x80001000: b"\x11" * 1024, 0x80008000: b"\x22" * 512}
    assert world.memory_tags == [tag] and world.lines[1] is True


def test_write_dma_started_before_its_command(ide: Controller, world: World) -> None:
    ide.dma_start(1, r.BMIC_START, prd((0x80002000, 0)), b"\x33" * 0x10000)  # count 0 = 64 KiB
    issue(ide, 0x35, lba=5, count=128, channel=1, lba48=True)
    drive, op, offset, length, data, _ = answer_disk(ide, world)
    assert (drive, op, offset, length) == (1, "write", 5 * 512, 65536) and data == b"\x33" * 65536
    assert world.lines[2] is True and ide.read(bm(1, r.BM_STATUS), 1) & r.BMIS_INTERRUPT


def test_a_prd_table_too_short_stops_the_bus_master_without_an_interrupt(ide: Controller, world: World) -> None:
    """As QEMU: "Reset the Active bit and don't raise the interrupt"; no
    error bit either (SFF-8038i: Interrupt 0, Active 0 is the sign of a
    table smaller than the transfer). Nothing reaches the disk."""
    issue(ide, 0xC8, lba=0, count=4)
    ide.dma_start(0, r.BMIC_START | r.BMIC_TO_MEMORY, prd((0x80001000, 512)), b"")
    assert world.disk_requests == []
    assert ide.read(bm(0, r.BM_STATUS), 1) & (r.BMIS_ACTIVE | r.BMIS_INTERRUPT | r.BMIS_ERROR) == 0
    assert world.lines[1] is False and status(ide) == r.DRDY | r.DSC


def test_a_prd_table_longer_than_the_transfer_leaves_the_bus_master_active(ide: Controller, world: World) -> None:
    """SFF-8038i: Interrupt 1, Active 1 (QEMU: "The Active bit must remain set")."""
    issue(ide, 0xC8, lba=0, count=1)
    ide.dma_start(0, r.BMIC_START | r.BMIC_TO_MEMORY, prd((0x80001000, 4096)), b"")
    answer_disk(ide, world)
    assert ide.read(bm(0, r.BM_STATUS), 1) & (r.BMIS_ACTIVE | r.BMIS_INTERRUPT | r.BMIS_ERROR) == (
        r.BMIS_ACTIVE | r.BMIS_INTERRUPT)
    assert world.lines[1] is True and status(ide) == r.DRDY | r.DSC
    # The next DMA command waits for its own start, not taking the engine
    # left active for a transfer with no table; and a start while the bit
    # is still set is none (SFF-8038i: only a change from 0 to 1 starts).
    issue(ide, 0xC8, lba=1, count=1)
    assert world.disk_requests == [] and status(ide) & r.BSY
    ide.dma_start(0, r.BMIC_START | r.BMIC_TO_MEMORY, prd((0x80002000, 512)), b"")
    assert world.disk_requests == [] and status(ide) & r.BSY
    ide.write(bm(0, r.BM_COMMAND), 1, r.BMIC_TO_MEMORY)  # the driver stops the engine, then starts it
    ide.dma_start(0, r.BMIC_START | r.BMIC_TO_MEMORY, prd((0x80002000, 512)), b"")
    _, op, offset, length, _, _ = answer_disk(ide, world)
    assert (op, offset, length) == ("read", 512, 512) and status(ide) == r.DRDY | r.DSC


def test_a_read_the_disk_fails_is_reported_as_unc_and_no_bus_master_error(ide: Controller, world: World) -> None:
    issue(ide, 0xC8, lba=0, count=1)
    ide.dma_start(0, r.BMIC_START | r.BMIC_TO_MEMORY, prd((0x80001000, 512)), b"")
    answer_disk(ide, world, ok=False)
    assert world.memory == {}
    # The bus master's error bit is a master abort's (SFF-8038i), not a drive's error: only the interrupt.
    assert ide.read(bm(0, r.BM_STATUS), 1) & (r.BMIS_ACTIVE | r.BMIS_ERROR | r.BMIS_INTERRUPT) == r.BMIS_INTERRUPT
    assert status(ide) == r.DRDY | r.ERR and ide.read(task(0, r.ERROR), 1) == r.UNC
    issue(ide, 0x20, lba=0, count=1)
    answer_disk(ide, world, ok=False)
    assert status(ide) & r.ERR and ide.read(task(0, r.ERROR), 1) == r.UNC


@pytest.mark.parametrize("dma", [True, False])
def test_a_write_the_disk_fails_is_aborted_not_unc(ide: Controller, world: World, dma: bool) -> None:
    # ATA-6 defines UNC for reads only; a write that cannot be done is aborted (as QEMU reports it).
    if dma:
        issue(ide, 0xCA, lba=5, count=1)
        ide.dma_start(0, r.BMIC_START, prd((0x80001000, 512)), bytes(512))
    else:
        issue(ide, 0x30, lba=5, count=1)
        ide.pio_data(0, world.expects[-1][1], bytes(512))
    answer_disk(ide, world, ok=False)
    assert status(ide) == r.DRDY | r.ERR and ide.read(task(0, r.ERROR), 1) == r.ABRT
    assert not ide.read(bm(0, r.BM_STATUS), 1) & r.BMIS_ERROR


# --- errors, features, resets ----------------------------------------------------


@pytest.mark.parametrize("opcode,lba48", [(0x20, False), (0x24, True), (0xC8, False), (0x25, True), (0x30, False)])
def test_past_the_end_is_idnf(ide: Controller, world: World, opcode: int, lba48: bool) -> None:
    issue(ide, opcode, lba=SECTORS - 1, count=2, lba48=lba48)
    assert world.disk_requests == [] and world.lines[1] is True
    assert status(ide) == r.DRDY | r.ERR and ide.read(task(0, r.ERROR), 1) == r.IDNF


def test_unknown_command_is_abrt_and_the_drive_stays_usable(ide: Controller, world: World) -> None:
    issue(ide, 0xFF)
    assert status(ide) & r.ERR and ide.read(task(0, r.ERROR), 1) == r.ABRT
    issue(ide, 0x20, lba=3, count=1)
    answer_disk(ide, world)
    assert alt_status(ide) == r.DRDY | r.DSC | r.DRQ


def test_flush_set_features_and_diagnostic(ide: Controller, world: World) -> None:
    issue(ide, 0xE7)
    assert world.disk_requests[0][1] == "flush"
    answer_disk(ide, world)
    assert status(ide) == r.DRDY | r.DSC
    ide.write(task(0, r.FEATURES), 1, 0x03)
    issue(ide, 0xEF, count=0x42)  # UDMA mode 2
    assert status(ide) == r.DRDY | r.DSC
    issue(ide, 0xEC)
    words = struct.unpack("<256H", world.fills[-1][2])
    assert words[88] & (0x0100 << 2)
    ide.pio_drained(0, world.fills[-1][1])
    ide.write(task(0, r.FEATURES), 1, 0x03)
    issue(ide, 0xEF, count=0x77)  # no such mode
    assert status(ide) & r.ERR and ide.read(task(0, r.ERROR), 1) == r.ABRT
    issue(ide, 0x90)
    assert ide.read(task(0, r.ERROR), 1) == 0x01 and status(ide) == r.DRDY | r.DSC


def test_identify_says_the_write_cache_is_supported_and_whether_it_is_enabled(ide: Controller, world: World) -> None:
    """Word 82 (supported) kept bit 5 only while the cache was on, so a
    driver that turned it off saw a drive that could not cache."""
    for feature, enabled in ((0x82, False), (0x02, True)):
        ide.write(task(0, r.FEATURES), 1, feature)
        issue(ide, 0xEF)
        issue(ide, 0xEC)
        words = struct.unpack("<256H", world.fills[-1][2])
        ide.pio_drained(0, world.fills[-1][1])
        assert words[82] == 0x4028 and words[85] == (0x4028 if enabled else 0x4008), feature


def test_power_management_commands_end_at_once_and_the_drive_is_active(ide: Controller, world: World) -> None:
    """Aborted before (Linux sends STANDBY IMMEDIATE at shutdown, and the
    feature set is mandatory for a device without PACKET)."""
    for opcode in (0xE0, 0xE1, 0xE2, 0xE3, 0xE5):
        issue(ide, opcode, count=0)
        assert world.lines[1] is True and status(ide) == r.DRDY | r.DSC, hex(opcode)
    assert ide.read(task(0, r.SECTOR_COUNT), 1) == 0xFF  # CHECK POWER MODE: active or idle
    assert world.disk_requests == []


def test_a_command_the_device_does_not_take_still_lowers_the_line(ide: Controller, world: World) -> None:
    """As QEMU, where every write of the command register lowers INTRQ."""
    issue(ide, 0xE7)
    answer_disk(ide, world)
    assert world.lines[1] is True
    ide.write(task(0, r.DEVICE), 1, r.DEV_LBA | r.DEV_SLAVE)  # no slave on this channel
    ide.write(task(0, r.COMMAND), 1, 0xE7)
    assert world.lines[1] is False and world.disk_requests == []


def registers(ide: Controller, lba48: bool) -> tuple[int, int]:
    """(LBA, sector count) as the task file reads back after a command."""
    def read(reg: int) -> int:
        return ide.read(task(0, reg), 1)
    lba = read(r.LBA_HIGH) << 16 | read(r.LBA_MID) << 8 | read(r.LBA_LOW)
    count = read(r.SECTOR_COUNT)
    if lba48:
        ide.write(task(0, r.DEVICE_CONTROL), 1, r.CTL_HOB)
        lba |= read(r.LBA_HIGH) << 40 | read(r.LBA_MID) << 32 | read(r.LBA_LOW) << 24
        count |= read(r.SECTOR_COUNT) << 8
        ide.write(task(0, r.DEVICE_CONTROL), 1, 0)
    else:
        lba |= (read(r.DEVICE) & 0x0F) << 24
    return lba, count


def test_the_task_file_says_where_a_transfer_ended_or_failed(world: World) -> None:
    """As drives and QEMU: the address after the last sector moved and the
    sectors left; so after an error, the failing sector. The registers kept
    the command's start and count, and Linux reports a failure's LBA from
    them."""
    ide = Controller([Drive(1 << 41), None, None, None], world)
    start = 0x12_3456_789A
    issue(ide, 0x25, lba=start, count=300, lba48=True)  # READ DMA EXT
    ide.dma_start(0, r.BMIC_START | r.BMIC_TO_MEMORY, prd(*[(0x80000000 + 0x10000 * i, 0) for i in range(3)]), b"")
    answer_disk(ide, world)
    assert registers(ide, lba48=True) == (start + 300, 0)
    ide.write(bm(0, r.BM_COMMAND), 1, 0)  # the driver stops the engine its longer table left active
    issue(ide, 0x30, lba=0x0ABC_DEF0, count=4)  # WRITE SECTORS: the third fails
    for sector in range(3):
        ide.pio_data(0, world.expects[-1][1], bytes(512))
        answer_disk(ide, world, ok=sector < 2)
    assert status(ide) == r.DRDY | r.ERR and ide.read(task(0, r.ERROR), 1) == r.ABRT
    assert registers(ide, lba48=False) == (0x0ABC_DEF0 + 2, 2)
    issue(ide, 0xC8, lba=77, count=8)  # READ DMA whose disk fails: nothing moved
    ide.dma_start(0, r.BMIC_START | r.BMIC_TO_MEMORY, prd((0x80000000, 4096)), b"")
    answer_disk(ide, world, ok=False)
    assert registers(ide, lba48=False) == (77, 8)


def test_an_absent_device_reads_back_the_channels_task_file(world: World) -> None:
    """As QEMU: the task file is the channel's, so with an absent slave
    selected the registers read back what was written, while status and
    error read 0; a channel with no device at all reads 0 throughout."""
    ide = Controller([Drive(64), None, None, None], world)
    for channel, present in ((0, True), (1, False)):
        ide.write(task(channel, r.DEVICE), 1, r.DEV_LBA | r.DEV_SLAVE)
        ide.write(task(channel, r.LBA_LOW), 1, 0x55)
        ide.write(task(channel, r.SECTOR_COUNT), 1, 0xAA)
        read_back = [ide.read(task(channel, reg), 1) for reg in (r.LBA_LOW, r.SECTOR_COUNT, r.DEVICE)]
        assert read_back == ([0x55, 0xAA, 0xA0 | r.DEV_LBA | r.DEV_SLAVE] if present else [0, 0, 0])
        assert status(ide, channel) == 0 and ide.read(task(channel, r.ERROR), 1) == 0


def test_nien_masks_the_line_without_losing_the_interrupt(ide: Controller, world: World) -> None:
    """The bus master's interrupt bit follows the line's rising edge
    (PIIX4, QEMU): not while nIEN masks it, but once nIEN lets it through."""
    ide.write(task(0, r.DEVICE_CONTROL), 1, r.CTL_NIEN)
    issue(ide, 0xE7)
    answer_disk(ide, world)
    assert world.lines[1] is False and not ide.read(bm(0, r.BM_STATUS), 1) & r.BMIS_INTERRUPT
    ide.write(task(0, r.DEVICE_CONTROL), 1, 0)
    assert world.lines[1] is True and ide.read(bm(0, r.BM_STATUS), 1) & r.BMIS_INTERRUPT


def test_software_reset_abandons_the_command(ide: Controller, world: World) -> None:
    issue(ide, 0x20, lba=9, count=1)
    ide.write(task(0, r.DEVICE_CONTROL), 1, r.CTL_SRST)
    assert alt_status(ide) == r.BSY
    ide.write(task(0, r.DEVICE_CONTROL), 1, 0)
    assert status(ide) == r.DRDY | r.DSC and ide.read(task(0, r.ERROR), 1) == 0x01
    assert (ide.read(task(0, r.SECTOR_COUNT), 1), ide.read(task(0, r.LBA_LOW), 1)) == (1, 1)  # signature
    answer_disk(ide, world)  # the old request's answer changes nothing
    assert world.fills == [] and alt_status(ide) == r.DRDY | r.DSC


def test_software_reset_clears_the_device_register_and_the_high_order_bytes(ide: Controller) -> None:
    """As QEMU's ide_reset: the device register reads A0h (device 0, LBA
    bit and head clear) and the LBA48 high-order bytes are gone; both
    survived before."""
    issue(ide, 0x25, lba=0x77_0000_0000, count=1, slave=False, lba48=True)  # past the end: IDNF, registers kept
    ide.write(task(0, r.DEVICE), 1, 0xEF)
    ide.write(task(0, r.DEVICE_CONTROL), 1, r.CTL_SRST)
    ide.write(task(0, r.DEVICE_CONTROL), 1, 0)
    assert ide.read(task(0, r.DEVICE), 1) == 0xA0
    ide.write(task(0, r.DEVICE_CONTROL), 1, r.CTL_HOB)
    assert [ide.read(task(0, reg), 1) for reg in (r.SECTOR_COUNT, r.LBA_LOW, r.LBA_MID, r.LBA_HIGH)] == [0, 0, 0, 0]


@pytest.mark.parametrize("opcode,to_memory", [(0xC8, True), (0xCA, False)])
def test_stopping_the_bus_master_mid_transfer_discards_its_data_and_the_drive_waits_for_a_reset(
        ide: Controller, world: World, opcode: int, to_memory: bool) -> None:
    """SFF-8038i: clearing the start bit while the transfer runs aborts the
    bus master command; what the drive sends may be discarded, and the
    command cannot be resumed. Nothing may reach guest memory afterwards
    (the guest may have reused the buffer), and no interrupt comes."""
    direction = r.BMIC_TO_MEMORY if to_memory else 0
    issue(ide, opcode, lba=3, count=1)
    ide.dma_start(0, r.BMIC_START | direction, prd((0x80001000, 512)), b"" if to_memory else b"\x77" * 512)
    ide.write(bm(0, r.BM_COMMAND), 1, direction)  # stop, with the disk request still out
    assert not ide.read(bm(0, r.BM_STATUS), 1) & r.BMIS_ACTIVE
    _, op, _, _, data, _ = answer_disk(ide, world, fill=0x5A)
    # a write's data left with its request, at the start; a read's comes back and is dropped
    assert (op, data) == (("read", b"") if to_memory else ("write", b"\x77" * 512))
    assert world.memory == {} and world.lines[1] is False
    assert not ide.read(bm(0, r.BM_STATUS), 1) & r.BMIS_INTERRUPT
    assert alt_status(ide) == r.DRDY | r.DSC | r.DRQ
    ide.dma_start(0, r.BMIC_START | direction, prd((0x80001000, 512)), b"")  # no resuming
    assert world.disk_requests == [] and world.memory == {}
    issue(ide, 0xC8, lba=4, count=1)  # the drive is not listening
    assert world.disk_requests == []
    ide.write(task(0, r.DEVICE_CONTROL), 1, r.CTL_SRST)
    ide.write(task(0, r.DEVICE_CONTROL), 1, 0)
    issue(ide, 0xC8, lba=4, count=1)
    ide.write(bm(0, r.BM_COMMAND), 1, 0)  # (a reset leaves the start bit as it was: QEMU's ide_perform_srst)
    ide.dma_start(0, r.BMIC_START | r.BMIC_TO_MEMORY, prd((0x80001000, 512)), b"")
    answer_disk(ide, world, fill=0x6C)
    assert world.memory == {0x80001000: b"\x6c" * 512} and world.lines[1] is True


def test_stopping_the_bus_master_after_the_interrupt_is_the_normal_end(ide: Controller, world: World) -> None:
    issue(ide, 0xC8, lba=3, count=1)
    ide.dma_start(0, r.BMIC_START | r.BMIC_TO_MEMORY, prd((0x80001000, 512)), b"")
    answer_disk(ide, world, fill=0x5A)
    ide.write(bm(0, r.BM_COMMAND), 1, r.BMIC_TO_MEMORY)
    assert world.memory == {0x80001000: b"\x5a" * 512} and world.lines[1] is True
    assert status(ide) == r.DRDY | r.DSC and ide.read(bm(0, r.BM_STATUS), 1) & r.BMIS_INTERRUPT


# --- the remaining commands, each once to success -------------------------------------


def test_read_dma_ext_at_a_48_bit_address(world: World) -> None:
    big = Controller([Drive(1 << 33)], world)
    lba = 0x1_0000_0010
    issue(big, 0x25, lba=lba, count=2, lba48=True)
    big.dma_start(0, r.BMIC_START | r.BMIC_TO_MEMORY, prd((0x80004000, 1024)), b"")
    _, op, offset, length, _, _ = answer_disk(big, world, fill=0x6B)
    assert (op, offset, length) == ("read", lba * 512, 1024)
    assert world.memory == {0x80004000: b"\x6b" * 1024}
    assert world.lines[1] is True and status(big) == r.DRDY | r.DSC


def test_write_dma_lba28(world: World) -> None:
    ide = Controller([Drive(1 << 28)], world)
    issue(ide, 0xCA, lba=0x9123456, count=1)  # its top nibble in the device register
    ide.dma_start(0, r.BMIC_START, prd((0x80002000, 512)), b"\x44" * 512)
    _, op, offset, length, data, _ = answer_disk(ide, world)
    assert (op, offset, length, data) == ("write", 0x9123456 * 512, 512, b"\x44" * 512)
    assert world.lines[1] is True and status(ide) == r.DRDY | r.DSC


def test_write_sectors_ext_at_a_48_bit_address(world: World) -> None:
    big = Controller([Drive(1 << 33)], world)
    lba = 0x1_0000_0200
    issue(big, 0x34, lba=lba, count=1, lba48=True)
    (_, transfer, length), = world.expects
    big.pio_data(0, transfer, b"\x09" * length)
    _, op, offset, _, data, _ = answer_disk(big, world)
    assert (op, offset, data) == ("write", lba * 512, b"\x09" * 512)
    assert world.lines[1] is True and status(big) == r.DRDY | r.DSC


def test_flush_cache_ext(ide: Controller, world: World) -> None:
    issue(ide, 0xEA, lba48=True)
    assert alt_status(ide) & r.BSY
    assert answer_disk(ide, world)[1] == "flush"
    assert world.lines[1] is True and status(ide) == r.DRDY | r.DSC


def test_regions_past_guest_memory_are_a_bus_master_error(ide: Controller, world: World) -> None:
    """The cpu's side says only the first 512 bytes of the table's regions
    are memory: a 2-sector read fails without reaching the disk."""
    issue(ide, 0xC8, lba=0, count=2)
    ide.dma_start(0, r.BMIC_START | r.BMIC_TO_MEMORY, prd((0x80001000, 512), (0x00001000, 512)), b"", reach=512)
    assert world.disk_requests == [] and world.memory == {}
    assert ide.read(bm(0, r.BM_STATUS), 1) & r.BMIS_ERROR
    assert status(ide) & r.ERR and ide.read(task(0, r.ERROR), 1) == r.ABRT


def test_a_region_reaching_past_memory_serves_a_transfer_that_ends_before(ide: Controller, world: World) -> None:
    """Only the bytes a transfer moves must be memory: a 64 KiB region of
    which 1 KiB is RAM serves a 2-sector read."""
    issue(ide, 0xC8, lba=0, count=2)
    ide.dma_start(0, r.BMIC_START | r.BMIC_TO_MEMORY, prd((0x80FFFC00, 0)), b"", reach=1024)
    _, op, offset, length, _, _ = answer_disk(ide, world, fill=0x11)
    assert (op, length) == ("read", 1024) and world.memory == {0x80FFFC00: b"\x11" * 1024}
    assert not ide.read(bm(0, r.BM_STATUS), 1) & r.BMIS_ERROR


def test_power_on_leaves_the_diagnostic_code_and_the_signature(ide: Controller) -> None:
    """ATA/ATAPI-6: after power-on, as after a reset, the error register
    holds the diagnostic code (01h: passed) and the task file the ATA
    signature (count 1, LBA 1, 0, 0)."""
    assert ide.read(task(0, r.ERROR), 1) == 0x01
    assert [ide.read(task(0, reg), 1) for reg in (r.SECTOR_COUNT, r.LBA_LOW, r.LBA_MID, r.LBA_HIGH)] == [1, 1, 0, 0]
