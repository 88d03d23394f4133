"""The IDE controller as a state machine: two channels, each with a master
and a slave drive, task-file registers, an SFF-8038i bus master, and one
interrupt line. No I/O: everything it wants done (a disk request, a write
to guest memory, a change of its interrupt line, a PIO block for the cpu's
side of the window) goes through ``Effects``; everything that happens to it
comes in through the methods named after the message that carries it.

One command runs per channel at a time. Its phases:

* PIO in (IDENTIFY, READ SECTORS): data is read from the disk in chunks of
  up to ``CHUNK`` sectors; each sector is offered as a DRQ block
  (``pio_fill``) with an interrupt; when it has been read the next follows.
* PIO out (WRITE SECTORS): each sector is asked for (``pio_expect``; no
  interrupt before the first), written to the disk, then the next is asked
  for with an interrupt; the last write's completion interrupts.
* DMA (READ/WRITE DMA): the command waits for the bus master's start bit
  to change from 0 to 1 (``dma_start``, which brings the PRD table and,
  for writes, the data; a start while the bit is set only sets the
  direction);
  then one disk request; reads are scattered into guest memory; an
  interrupt ends it. Clearing the start bit before that aborts the bus
  master: a read's data is discarded (a write's went to the disk when the
  transfer started), and the drive holds DRQ until a reset.
* Non-data (FLUSH CACHE, SET FEATURES, EXECUTE DEVICE DIAGNOSTIC): done at
  once or on the disk's answer, with an interrupt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from . import registers as r
from .drive import LBA28_MAX, Drive

CHUNK = 256  # sectors per disk request in a PIO data-in command

# Commands: opcode -> (name, kind, lba48)
COMMANDS: dict[int, tuple[str, str, bool]] = {
    0xEC: ("IDENTIFY DEVICE", "identify", False),
    0x20: ("READ SECTORS", "pio_in", False),
    0x24: ("READ SECTORS EXT", "pio_in", True),
    0x30: ("WRITE SECTORS", "pio_out", False),
    0x34: ("WRITE SECTORS EXT", "pio_out", True),
    0xC8: ("READ DMA", "dma_in", False),
    0x25: ("READ DMA EXT", "dma_in", True),
    0xCA: ("WRITE DMA", "dma_out", False),
    0x35: ("WRITE DMA EXT", "dma_out", True),
    0xE7: ("FLUSH CACHE", "flush", False),
    0xEA: ("FLUSH CACHE EXT", "flush", True),
    0xEF: ("SET FEATURES", "features", False),
    0x90: ("EXECUTE DEVICE DIAGNOSTIC", "diagnostic", False),
    # The power management feature set (mandatory for a device without
    # PACKET): a virtual disk has no spindle, so each ends at once, the
    # drive active as before (Linux sends STANDBY IMMEDIATE at shutdown).
    0xE0: ("STANDBY IMMEDIATE", "power", False),
    0xE1: ("IDLE IMMEDIATE", "power", False),
    0xE2: ("STANDBY", "power", False),
    0xE3: ("IDLE", "power", False),
    0xE5: ("CHECK POWER MODE", "power", False),
}
TRANSFERS = ("pio_in", "pio_out", "dma_in", "dma_out")
CHECK_POWER_MODE = 0xE5
ACTIVE_OR_IDLE = 0xFF
"""CHECK POWER MODE's answer in the sector count register (as QEMU's)."""


class Effects(Protocol):
    """What the controller asks of the world (the ide actor sends messages)."""

    def disk(self, drive: int, op: str, offset: int, length: int, data: bytes, tag: int,
             to_memory: bool = False) -> None:
        """Start a request on drive slot ``drive`` (0..3); answer with
        ``Controller.disk_done(tag, ...)``. ``to_memory``: a read whose data
        goes to guest memory by DMA, and nowhere else; its completion may
        come back without the data (empty), which then waits where
        ``memory_write`` with this ``tag`` finds it."""

    def memory_write(self, ranges: list[tuple[int, int]], data: bytes, tag: int = -1) -> None:
        """DMA ``data`` into guest memory, piece after piece into ``ranges``
        (``data`` empty: what disk request ``tag`` read, see ``disk``)."""

    def irq(self, line: int, high: bool) -> None:
        """The interrupt line (PLIC source) changed."""

    def pio_fill(self, channel: int, transfer: int, data: bytes) -> None:
        """Offer ``data`` as the channel's data register contents."""

    def pio_expect(self, channel: int, transfer: int, length: int) -> None:
        """Ask for ``length`` bytes of data register writes."""

    def snapshot(self, channel: int, slave: bool, status: int, error: int, bm_status: int, pending: bool) -> None:
        """A command ended: the registers the cpu may answer from now on."""


@dataclass
class Command:
    """The command in progress on a channel."""

    opcode: int
    kind: str
    drive: Drive
    slot: int
    lba: int = 0
    count: int = 0  # sectors
    done: int = 0  # sectors transferred
    buffer: bytes = b""  # PIO data in: the chunk read from disk
    collected: bytearray = field(default_factory=bytearray)  # PIO data out: bytes written so far
    transfer: int = 0  # PIO block number (matches PioDrained / PioData)
    prd: list[tuple[int, int]] | None = None  # DMA: (address, length) of each PRD entry
    data: bytes = b""  # DMA out: the bytes the PRD table pointed to
    reach: int = -1  # DMA: how many of the table's bytes are guest memory (-1: all)
    chs: bool = False  # addressed by cylinder, head and sector (the device's LBA bit clear)
    waiting_for: int | None = None  # the tag of the disk request in flight
    failed: bool = False
    # The guest cleared the bus master's start bit mid-transfer. SFF-8038i:
    # the bus master command "is said to be aborted and data transferred
    # from the drive may be discarded before being written to system
    # memory"; it cannot be resumed. So nothing a read brings reaches
    # memory (a write's data went to the disk with its request, at the
    # start), no interrupt comes, and the drive, whose transfer cannot end,
    # holds DRQ until a reset.
    host_stopped: bool = False


@dataclass
class Channel:
    index: int
    drives: list[Drive | None]
    slots: tuple[int, int]
    # task file: current and previous ("high order", LBA48) bytes
    features: list[int] = field(default_factory=lambda: [0, 0])
    sector_count: list[int] = field(default_factory=lambda: [0, 0])
    lba_low: list[int] = field(default_factory=lambda: [0, 0])
    lba_mid: list[int] = field(default_factory=lambda: [0, 0])
    lba_high: list[int] = field(default_factory=lambda: [0, 0])
    device: int = 0
    control: int = 0
    pending: bool = False  # INTRQ of the selected device
    line: bool = False  # what the cpu was last told
    command: Command | None = None
    pio: bytearray = field(default_factory=bytearray)  # data register served here (no proxy)
    bm_command: int = 0
    bm_status: int = 0
    bm_prdt: int = 0
    armed: tuple[list[tuple[int, int]], bytes, int] | None = None  # a bus-master start before its command

    @property
    def selected(self) -> int:
        return 1 if self.device & r.DEV_SLAVE else 0

    @property
    def drive(self) -> Drive | None:
        return self.drives[self.selected]


class Controller:
    """Two channels; drive slots in reel's order: 0 = channel 0 master,
    1 = channel 1 master, 2 = channel 0 slave, 3 = channel 1 slave."""

    def __init__(self, drives: list[Drive | None], effects: Effects) -> None:
        slots = (drives + [None] * 4)[:4]
        self.effects = effects
        self.channels = [Channel(c, [slots[c], slots[c + 2]], (c, c + 2)) for c in range(r.CHANNELS)]
        self.next_tag = 1
        self.in_flight: dict[int, int] = {}  # tag -> channel
        self.transfers = 0
        for ch in self.channels:
            # Power-on, as after a reset: the diagnostic passed (error 01h)
            # and the ATA signature in the task file (ATA/ATAPI-6 9.1).
            for drive in ch.drives:
                if drive is not None:
                    drive.status, drive.error = r.DRDY | r.DSC, 0x01
            ch.sector_count[0], ch.lba_low[0], ch.lba_mid[0], ch.lba_high[0] = 1, 1, 0, 0
            ch.bm_status = (r.BMIS_DRIVE0_DMA if ch.drives[0] else 0) | (r.BMIS_DRIVE1_DMA if ch.drives[1] else 0)

    # --- the guest's register accesses ----------------------------------------------

    def read(self, offset: int, size: int) -> int:
        area, c, reg = r.locate(offset)
        ch = self.channels[c]
        if area == "bm":
            return self._read_bm(ch, reg, size)
        if area != "task":
            return 0
        if reg == r.DATA:
            return self._read_data(ch, size)
        drive = ch.drive
        if reg == r.STATUS:
            value = drive.status if drive else 0
            self._set_pending(ch, False)  # reading status acknowledges the interrupt
            return value
        if reg == r.ALT_STATUS:
            return drive.status if drive else 0
        if reg == r.ERROR:
            return drive.error if drive else 0
        if not any(ch.drives):
            return 0  # nothing on the channel to hold a task file
        # The task file is the channel's: with the other device selected,
        # an absent one reads back what was written (as QEMU).
        hob = 1 if ch.control & r.CTL_HOB else 0
        if reg == r.SECTOR_COUNT:
            return ch.sector_count[hob]
        if reg == r.LBA_LOW:
            return ch.lba_low[hob]
        if reg == r.LBA_MID:
            return ch.lba_mid[hob]
        if reg == r.LBA_HIGH:
            return ch.lba_high[hob]
        if reg == r.DEVICE:
            return ch.device | 0xA0
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        area, c, reg = r.locate(offset)
        ch = self.channels[c]
        if area == "bm":
            self._write_bm(ch, reg, size, value)
            return
        if area != "task":
            return
        if reg == r.DATA:
            self._write_data(ch, size, value)
            return
        value &= 0xFF
        if reg == r.DEVICE_CONTROL:
            self._write_control(ch, value)
            return
        if ch.command is not None and reg != r.COMMAND:
            return  # the task file is not writable while a command runs (BSY/DRQ)
        ch.control &= ~r.CTL_HOB  # ATA/ATAPI-6: a write to any Command Block register clears HOB
        for reg_id, pair in ((r.FEATURES, ch.features), (r.SECTOR_COUNT, ch.sector_count), (r.LBA_LOW, ch.lba_low),
                             (r.LBA_MID, ch.lba_mid), (r.LBA_HIGH, ch.lba_high)):
            if reg == reg_id:
                pair[1], pair[0] = pair[0], value  # the old value becomes the high-order byte
                return
        if reg == r.DEVICE:
            ch.device = value
        elif reg == r.COMMAND:
            self._command(ch, value)

    # --- commands ----------------------------------------------------------------

    def _command(self, ch: Channel, opcode: int) -> None:
        drive = ch.drive
        self._set_pending(ch, False)  # every command write lowers the line (as QEMU), taken or not
        if drive is None or ch.command is not None or ch.control & r.CTL_SRST:
            return  # no device answers; or busy: the command is not taken
        known = COMMANDS.get(opcode)
        if known is None:
            self._abort(ch, drive, r.ABRT)
            return
        _, kind, lba48 = known
        slot = ch.slots[ch.selected]
        cmd = Command(opcode, kind, drive, slot)
        if kind in TRANSFERS:
            cmd.chs = not ch.device & r.DEV_LBA
            if cmd.chs and lba48:
                self._abort(ch, drive, r.ABRT)  # the 48-bit commands address by LBA only
                return
            address = self._chs_address(ch, drive) if cmd.chs else self._address(ch, lba48)
            if address is None:
                self._abort(ch, drive, r.IDNF)  # no such cylinder, head or sector
                return
            cmd.lba, cmd.count = address
            if cmd.lba + cmd.count > drive.sectors or (not lba48 and cmd.lba + cmd.count > LBA28_MAX + 1):
                self._abort(ch, drive, r.IDNF)
                return
        getattr(self, "_start_" + kind)(ch, cmd)

    def _address(self, ch: Channel, lba48: bool) -> tuple[int, int]:
        if lba48:
            lba = (ch.lba_high[1] << 40 | ch.lba_mid[1] << 32 | ch.lba_low[1] << 24
                   | ch.lba_high[0] << 16 | ch.lba_mid[0] << 8 | ch.lba_low[0])
            count = (ch.sector_count[1] << 8 | ch.sector_count[0]) or 65536
        else:
            lba = (ch.device & 0x0F) << 24 | ch.lba_high[0] << 16 | ch.lba_mid[0] << 8 | ch.lba_low[0]
            count = ch.sector_count[0] or 256
        return lba, count

    @staticmethod
    def _chs_address(ch: Channel, drive: Drive) -> tuple[int, int] | None:
        """(LBA, count) of a 28-bit command addressed by cylinder (LBA mid
        and high), head (device bits 3:0) and sector (LBA low, from 1)."""
        lba = drive.chs_to_lba(ch.lba_high[0] << 8 | ch.lba_mid[0], ch.device & 0x0F, ch.lba_low[0])
        return None if lba is None else (lba, ch.sector_count[0] or 256)

    def _start_identify(self, ch: Channel, cmd: Command) -> None:
        cmd.buffer, cmd.count = cmd.drive.identify(), 1
        ch.command = cmd
        self._offer_sector(ch, cmd)

    def _start_pio_in(self, ch: Channel, cmd: Command) -> None:
        ch.command = cmd
        self._read_chunk(ch, cmd)

    def _start_pio_out(self, ch: Channel, cmd: Command) -> None:
        ch.command = cmd
        self._ask_sector(ch, cmd, interrupt=False)

    def _start_dma_in(self, ch: Channel, cmd: Command) -> None:
        cmd.drive.status = r.DRDY | r.BSY | r.DSC
        ch.command = cmd
        if ch.armed is not None:  # the bus master was started for it already (not one left active by a long table)
            self._dma_go(ch, cmd)

    _start_dma_out = _start_dma_in

    def _start_flush(self, ch: Channel, cmd: Command) -> None:
        cmd.drive.status = r.DRDY | r.BSY | r.DSC
        ch.command = cmd
        self._disk(ch, cmd, "flush", 0, 0)

    def _start_features(self, ch: Channel, cmd: Command) -> None:
        feature = ch.features[0]
        drive = cmd.drive
        if feature == 0x03 and drive.set_transfer_mode(ch.sector_count[0]) or feature in (0x02, 0x82):
            if feature in (0x02, 0x82):
                drive.write_cache = feature == 0x02
            self._finish(ch, drive)
        else:
            self._abort(ch, drive, r.ABRT)

    def _start_power(self, ch: Channel, cmd: Command) -> None:
        if cmd.opcode == CHECK_POWER_MODE:
            ch.sector_count[0] = ACTIVE_OR_IDLE
        self._finish(ch, cmd.drive)

    def _start_diagnostic(self, ch: Channel, cmd: Command) -> None:
        self._reset_channel(ch)
        for drive in ch.drives:
            if drive is not None:
                drive.status, drive.error = r.DRDY | r.DSC, 0x01  # passed (device 0: device 1 passed or absent)
        ch.device &= ~r.DEV_SLAVE
        self._set_pending(ch, True)

    # --- PIO ---------------------------------------------------------------------

    def _read_chunk(self, ch: Channel, cmd: Command) -> None:
        sectors = min(CHUNK, cmd.count - cmd.done)
        cmd.drive.status = r.DRDY | r.BSY | r.DSC
        self._disk(ch, cmd, "read", (cmd.lba + cmd.done) * r.SECTOR, sectors * r.SECTOR)

    def _offer_sector(self, ch: Channel, cmd: Command) -> None:
        """Raise DRQ for the next sector of data in, with an interrupt."""
        start = (cmd.done % CHUNK) * r.SECTOR if cmd.kind == "pio_in" else 0
        sector = cmd.buffer[start:start + r.SECTOR]
        cmd.drive.status = r.DRDY | r.DRQ | r.DSC
        self.transfers += 1
        cmd.transfer = self.transfers
        ch.pio = bytearray(sector)
        self.effects.pio_fill(ch.index, cmd.transfer, sector)
        self._set_pending(ch, True)

    def pio_drained(self, channel: int, transfer: int) -> None:
        """The guest read the whole block offered as ``transfer``."""
        ch = self.channels[channel]
        cmd = ch.command
        if cmd is None or cmd.transfer != transfer or cmd.kind not in ("pio_in", "identify"):
            return  # stale: the command was reset meanwhile
        ch.pio.clear()
        cmd.done += 1
        if cmd.done == cmd.count:
            self._finish(ch, cmd.drive, interrupt=False)
        elif cmd.done % CHUNK == 0:
            self._read_chunk(ch, cmd)
        else:
            self._offer_sector(ch, cmd)

    def _ask_sector(self, ch: Channel, cmd: Command, interrupt: bool) -> None:
        cmd.drive.status = r.DRDY | r.DRQ | r.DSC
        self.transfers += 1
        cmd.transfer = self.transfers
        cmd.collected.clear()
        self.effects.pio_expect(ch.index, cmd.transfer, r.SECTOR)
        if interrupt:
            self._set_pending(ch, True)

    def pio_data(self, channel: int, transfer: int, data: bytes) -> None:
        """The guest wrote the rest of the sector for ``transfer``: what the
        cpu collected after the bytes that reached the ide itself."""
        ch = self.channels[channel]
        cmd = ch.command
        if cmd is None or cmd.transfer != transfer or cmd.kind != "pio_out" or cmd.drive.status & r.BSY:
            return
        self._take_data(ch, cmd, data)

    def _take_data(self, ch: Channel, cmd: Command, data: bytes) -> None:
        """Add ``data`` to the sector being written; once it is whole, write it."""
        cmd.collected += data
        if len(cmd.collected) >= r.SECTOR:
            cmd.drive.status = r.DRDY | r.BSY | r.DSC
            self._disk(ch, cmd, "write", (cmd.lba + cmd.done) * r.SECTOR, r.SECTOR, bytes(cmd.collected[:r.SECTOR]))

    def _read_data(self, ch: Channel, size: int) -> int:
        """A data-register read that reached the controller itself (no
        cpu-side proxy for this block)."""
        cmd = ch.command
        width = 4 if size == 4 else 2
        if cmd is None or not ch.pio:
            return 0
        value = int.from_bytes(ch.pio[:width], "little")
        del ch.pio[:width]
        if not ch.pio:
            self.pio_drained(ch.index, cmd.transfer)
        return value

    def _write_data(self, ch: Channel, size: int, value: int) -> None:
        cmd = ch.command
        if cmd is None or cmd.kind != "pio_out" or cmd.drive.status & r.BSY:
            return
        width = 4 if size == 4 else 2
        self._take_data(ch, cmd, (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little"))
        # The write was posted before the cpu saw the PioExpect (or the cpu
        # has no proxy): say how many bytes the cpu still collects (0: none).
        self.effects.pio_expect(ch.index, cmd.transfer, max(0, r.SECTOR - len(cmd.collected)))

    # --- DMA ---------------------------------------------------------------------

    def _read_bm(self, ch: Channel, reg: int, size: int) -> int:
        if reg == r.BM_COMMAND:
            return ch.bm_command
        if reg == r.BM_STATUS:
            return ch.bm_status
        if r.is_prdt(reg):
            return r.prdt_read(ch.bm_prdt, reg, size)
        return 0

    def _write_bm(self, ch: Channel, reg: int, size: int, value: int) -> None:
        if reg == r.BM_COMMAND:
            value &= r.BMIC_START | r.BMIC_TO_MEMORY
            ch.bm_status = r.bm_command_written(ch.bm_status, value)  # stop: an unfinished transfer is abandoned
            if not value & r.BMIC_START:
                ch.armed = None
                cmd = ch.command
                if ch.bm_command & r.BMIC_START and cmd is not None and cmd.prd is not None:
                    cmd.host_stopped = True  # a DMA command whose transfer had begun
            ch.bm_command = value
        elif reg == r.BM_STATUS:
            ch.bm_status = r.bm_status_written(ch.bm_status, value)
        elif r.is_prdt(reg):
            ch.bm_prdt = r.prdt_written(ch.bm_prdt, reg, size, value)

    def dma_start(self, channel: int, command: int, prd: bytes, data: bytes, reach: int = -1) -> None:
        """The guest wrote bus-master ``command`` with the start bit (it
        starts only if the bit was clear); ``prd`` is the PRD table read at
        that moment and ``data`` what it points to (memory-to-device only);
        ``reach``, when not -1, how many of the regions' bytes are guest
        memory: a transfer past it fails as a bus-master error."""
        ch = self.channels[channel]
        was_started = ch.bm_command & r.BMIC_START
        ch.bm_command = command & (r.BMIC_START | r.BMIC_TO_MEMORY)
        if not command & r.BMIC_START or was_started:
            return  # only a change of the start bit from 0 to 1 starts (SFF-8038i; QEMU's bmdma_cmd_writeb)
        ch.bm_status |= r.BMIS_ACTIVE
        entries = r.parse_prd(prd)
        cmd = ch.command
        if cmd is not None and cmd.kind in ("dma_in", "dma_out") and cmd.prd is None:
            cmd.prd, cmd.data, cmd.reach = entries, data, reach
            self._dma_go(ch, cmd)
        else:
            ch.armed = (entries, data, reach)

    def _dma_go(self, ch: Channel, cmd: Command) -> None:
        if cmd.prd is None:
            cmd.prd, cmd.data, cmd.reach = ch.armed or ([], b"", -1)
            ch.armed = None
        to_memory = cmd.kind == "dma_in"
        length = cmd.count * r.SECTOR
        if sum(n for _, n in cmd.prd) < length:
            self._prd_table_too_short(ch, cmd)
            return
        if bool(ch.bm_command & r.BMIC_TO_MEMORY) != to_memory or 0 <= cmd.reach < length:
            self._dma_end(ch, cmd, ok=False, master_abort=True)  # the wrong direction, or past guest memory
            return
        if to_memory:
            self._disk(ch, cmd, "read", cmd.lba * r.SECTOR, length, to_memory=True)
        else:
            self._disk(ch, cmd, "write", cmd.lba * r.SECTOR, length, cmd.data[:length])

    def _prd_table_too_short(self, ch: Channel, cmd: Command) -> None:
        """As QEMU's ide_dma_cb: "The PRDs are too short for this request.
        Error condition! Reset the Active bit and don't raise the
        interrupt." Nothing moves; the drive is ready again; the bus master
        shows neither interrupt nor error, which SFF-8038i's table reads as
        a PRD table smaller than the transfer."""
        ch.bm_status &= ~r.BMIS_ACTIVE
        self._finish(ch, cmd.drive, interrupt=False, moved=False)

    def _dma_end(self, ch: Channel, cmd: Command, ok: bool, error: int = r.ABRT, master_abort: bool = False) -> None:
        # A PRD table longer than the transfer leaves the bus master active
        # (SFF-8038i: Interrupt 1, Active 1; QEMU: "The Active bit must
        # remain set"); it stops at a table's end, or on an error. Its error
        # bit means a master abort on the host's side, never a drive's error
        # (SFF-8038i; QEMU's ide_dma_error leaves it clear): a driver reads
        # it as a host bus fault (Linux: AC_ERR_HOST_BUS).
        longer = ok and cmd.prd is not None and sum(n for _, n in cmd.prd) > cmd.count * r.SECTOR
        ch.bm_status = ((ch.bm_status & ~r.BMIS_ACTIVE) | (r.BMIS_ACTIVE if longer else 0)
                        | (r.BMIS_ERROR if master_abort else 0))
        if ok:
            self._finish(ch, cmd.drive)
        else:
            self._abort(ch, cmd.drive, error)

    # --- disk requests -----------------------------------------------------------

    def _disk(self, ch: Channel, cmd: Command, op: str, offset: int, length: int, data: bytes = b"",
              to_memory: bool = False) -> None:
        tag = self.next_tag
        self.next_tag += 1
        cmd.waiting_for = tag
        self.in_flight[tag] = ch.index
        self.effects.disk(cmd.slot, op, offset, length, data, tag, to_memory)

    def disk_done(self, tag: int, ok: bool, data: bytes = b"") -> None:
        """A disk request finished (``ok`` False: the backend failed)."""
        channel = self.in_flight.pop(tag, None)
        if channel is None:
            return
        ch = self.channels[channel]
        cmd = ch.command
        if cmd is None or cmd.waiting_for != tag:
            return  # the command was reset meanwhile
        cmd.waiting_for = None
        if cmd.kind == "pio_in":
            if not ok:
                self._abort(ch, cmd.drive, r.UNC)
                return
            cmd.buffer = bytes(data)
            self._offer_sector(ch, cmd)
        elif cmd.kind == "pio_out":
            if not ok:
                self._abort(ch, cmd.drive, r.ABRT)  # (ATA-6 defines UNC for reads only)
                return
            cmd.done += 1
            if cmd.done == cmd.count:
                self._finish(ch, cmd.drive)
            else:
                self._ask_sector(ch, cmd, interrupt=True)
        elif cmd.host_stopped:
            drive = cmd.drive
            drive.status, drive.error = r.DRDY | r.DSC | r.DRQ, 0  # waits for a transfer that will not come
        elif cmd.kind == "dma_in":
            if ok:
                assert cmd.prd is not None
                moved = len(data) if data else cmd.count * r.SECTOR  # (empty: the data waits elsewhere, see Effects.disk)
                self.effects.memory_write(pieces(cmd.prd, moved), data, tag)
            self._dma_end(ch, cmd, ok, r.UNC)
        elif cmd.kind == "dma_out":
            self._dma_end(ch, cmd, ok, r.ABRT)
        elif cmd.kind == "flush":
            if ok:
                self._finish(ch, cmd.drive)
            else:
                self._abort(ch, cmd.drive, r.ABRT)

    # --- endings, resets, the interrupt line -----------------------------------------

    def _finish(self, ch: Channel, drive: Drive, interrupt: bool = True, moved: bool = True) -> None:
        """The command ends well (``moved`` False: a transfer that moved nothing)."""
        self._report_position(ch, moved)
        drive.status, drive.error = r.DRDY | r.DSC, 0
        ch.command = None
        ch.pio.clear()
        if interrupt:
            self._set_pending(ch, True)

    def _abort(self, ch: Channel, drive: Drive, error: int) -> None:
        self._report_position(ch, moved=False)
        drive.status, drive.error = r.DRDY | r.ERR, error  # (QEMU: READY | ERR, no DSC)
        ch.command = None
        ch.pio.clear()
        self._set_pending(ch, True)

    @staticmethod
    def _report_position(ch: Channel, moved: bool) -> None:
        """Leave in the task file where a transfer command ended, as drives
        and QEMU do: the address after the last sector moved, and the count
        of sectors not moved (0 when it ended well); after an error, so, the
        failing sector's address. ``moved``: every sector was (else, as many
        as the command counted; a DMA moves all or none)."""
        cmd = ch.command
        if cmd is None or cmd.kind not in TRANSFERS:
            return
        done = cmd.count if moved else cmd.done
        lba, left = cmd.lba + done, cmd.count - done
        ch.sector_count[0] = left & 0xFF
        if cmd.chs:
            cylinder, head, sector = Drive.lba_to_chs(lba)
            ch.lba_low[0], ch.lba_mid[0], ch.lba_high[0] = sector, cylinder & 0xFF, cylinder >> 8 & 0xFF
            ch.device = ch.device & 0xF0 | head
            return
        ch.lba_low[0], ch.lba_mid[0], ch.lba_high[0] = lba & 0xFF, lba >> 8 & 0xFF, lba >> 16 & 0xFF
        if COMMANDS[cmd.opcode][2]:  # LBA48: the high-order bytes too, read back with HOB
            ch.lba_low[1], ch.lba_mid[1], ch.lba_high[1] = lba >> 24 & 0xFF, lba >> 32 & 0xFF, lba >> 40 & 0xFF
            ch.sector_count[1] = left >> 8 & 0xFF
        else:
            ch.device = ch.device & 0xF0 | lba >> 24 & 0x0F

    def _write_control(self, ch: Channel, value: int) -> None:
        was_reset = ch.control & r.CTL_SRST
        ch.control = value
        if value & r.CTL_SRST and not was_reset:
            self._reset_channel(ch)
            for drive in ch.drives:
                if drive is not None:
                    drive.status = r.BSY
        elif was_reset and not value & r.CTL_SRST:
            for drive in ch.drives:
                if drive is not None:
                    drive.status, drive.error = r.DRDY | r.DSC, 0x01
            ch.device = 0  # device 0 selected, LBA bit clear: reads A0h (QEMU's ide_reset)
        self._update_line(ch)

    def _reset_channel(self, ch: Channel) -> None:
        """Abandon the channel's command; the ATA signature in the task file."""
        if ch.command is not None and ch.command.waiting_for is not None:
            self.in_flight.pop(ch.command.waiting_for, None)
        ch.command = None
        ch.pio.clear()
        ch.pending = False
        ch.sector_count[0], ch.lba_low[0], ch.lba_mid[0], ch.lba_high[0] = 1, 1, 0, 0
        for pair in (ch.features, ch.sector_count, ch.lba_low, ch.lba_mid, ch.lba_high):
            pair[1] = 0  # nothing of the previous command's high-order bytes survives (QEMU's ide_reset)
        ch.device &= 0xF0  # the head bits clear (the signature's); a software reset clears the rest
        ch.bm_status &= ~r.BMIS_ACTIVE
        ch.armed = None

    def _set_pending(self, ch: Channel, pending: bool) -> None:
        ch.pending = pending
        line = self._line_now(ch)
        drive = ch.drive
        if pending and ch.command is None and drive is not None:  # a command ended: registers settle
            self.effects.snapshot(ch.index, bool(ch.selected), drive.status, drive.error, ch.bm_status, True)
        self._drive_line(ch, line)

    def interrupt_acknowledged(self, channel: int) -> None:
        """The cpu read the status from the snapshot and lowered the line."""
        ch = self.channels[channel]
        ch.pending = False
        ch.line = False

    def _update_line(self, ch: Channel) -> None:
        self._drive_line(ch, self._line_now(ch))

    @staticmethod
    def _line_now(ch: Channel) -> bool:
        """INTRQ as the pending interrupt and nIEN make it. A rising line
        sets the bus master's interrupt bit ("set by the rising edge of the
        IDE interrupt line", PIIX4; QEMU's bmdma_irq), so an interrupt
        nIEN masks sets none until nIEN lets it through."""
        line = ch.pending and not ch.control & r.CTL_NIEN
        if line and not ch.line:
            ch.bm_status |= r.BMIS_INTERRUPT
        return line

    def _drive_line(self, ch: Channel, line: bool) -> None:
        if line != ch.line:
            ch.line = line
            self.effects.irq(r.IRQ_LINE[ch.index], line)


def pieces(prd: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """The PRD regions that ``length`` bytes fill, the last one cut short."""
    out = []
    for address, size in prd:
        if length <= 0:
            break
        out.append((address, min(size, length)))
        length -= size
    return out
