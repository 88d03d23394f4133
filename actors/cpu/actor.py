"""The cpu actor: runs a guest program on the RV32IM machine.

It is the clock of the emulated machine. The guest runs inside the Start
handler; every ``poll_every`` instructions the actor looks at its inbox (so
heartbeats flow and Stop is seen), and a guest idling in ``wfi`` for an
external interrupt blocks on the inbox. UART output goes to this process's
stdout as it comes, a line at a time. When the guest writes the exit device,
the actor reports Finished with the guest's exit code and a report: icount,
speed, and digests of the final registers and memory.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Annotated, Literal

import msgspec

from .._blocking import BlockingActor
from .._errors import ActorStopped
from .._rss import peak_rss_mib
from ..schema import (BlockCompletion, DmaData, DmaRead, DmaScatter, DmaWrite, Drain, Drained, EventsPending, IrqLevel,
                      PioExpect, PioFill, RegisterSnapshot, ReplayDiverged, RunTo)
from . import elf
from .bus import MAX_RAM_MIB, RAM_BASE
from .clocks import CLOCKS, Divergence
from .codecache import CodeCache
from .console import BACKLOG_LIMIT, Console
from .machine import GuestHung, Machine
from .ide_window import AbsentIdeWindow, IdeWindow


MAX_PARKED = 64
"""The most disk reads' data the cpu holds for DmaScatters to come. Each
drive runs one command at a time, and a command abandoned by a reset
leaves at most its one request in flight: a handful at most, so more means
the ide lets some go unnamed."""

DRAIN_SECONDS = 300.0
"""How long a guest's exit waits for the disks to carry out the requests it
issued (Drain) before the run ends without them, saying so: long enough
for any disk reel's latency options make (at most 60 s a request), as a
slow disk is no reason to lose a write; bounded, as a disk actor whose I/O
is stuck (a hard-mounted network file system) still heartbeats, and a
script waiting on the run should not wait for ever."""

DRAIN_REPORT_SECONDS = 10.0
"""Meanwhile, every this many seconds of waiting, the cpu says it still waits."""

STOP_DRAIN_SECONDS = 0.5
"""How long a stopping cpu still tries to write the guest's output (well
within the launcher's STOP_GRACE, after which it is killed)."""


class Cpu(BlockingActor):
    class Params(msgspec.Struct, forbid_unknown_fields=True):
        elf: bytes = b""  # the program image (``reel run`` sends it: no shared filesystem needed)
        elf_path: str = ""  # or a path to read on this actor's host
        name: str = ""  # what to call the program in messages
        ram_mib: Annotated[int, msgspec.Meta(ge=1, le=MAX_RAM_MIB)] = 16
        poll_every: Annotated[int, msgspec.Meta(ge=1)] = 65536
        ide: str = ""  # the peer that serves the IDE window ("": no window)
        # At the guest's exit, whether that peer (an ide) carries out the
        # disk requests still in flight before the run ends (Drain).
        drain_disks: bool = False
        max_instructions: Annotated[int, msgspec.Meta(ge=0)] = 0  # 0: no limit
        console: Literal["stdout", "stderr", "none"] = "stdout"  # where UART output goes
        mode: Literal["direct", "record", "replay"] = "direct"  # see actors.cpu.clocks
        logger: str = "logger"  # recording or replaying: the logger's name
        blkreplay: str = "blkreplay"  # recording: where a checkpoint's Patience goes
        digest_every: Annotated[int, msgspec.Meta(ge=1)] = 64  # ... and every how many checkpoints it wants this actor's digest

    SENDERS = {"ide": frozenset({DmaRead, DmaWrite, DmaScatter, IrqLevel, RegisterSnapshot, PioFill, PioExpect,
                                 Drained}),
               "logger": frozenset({RunTo})}

    @classmethod
    def peers_named(cls, params: Cpu.Params) -> dict[str, str]:
        named = {"ide": params.ide} if params.ide else {}
        if params.mode != "direct":
            named["logger"] = params.logger
        if params.mode == "record":
            named["blkreplay"] = params.blkreplay
        return named

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.machine: Machine | None = None
        self.ide_window: IdeWindow | None = None
        self.absent_ide: AbsentIdeWindow | None = None  # no ide: what the guest tried of its window
        self.parked: dict[int, bytes] = {}  # disk request -> the data it read, until a DmaScatter names it
        self.drained = False  # the ide answered the guest's exit's Drain
        self.undelivered: list[tuple[int, int]] = []  # ... with the completions no checkpoint delivered
        self.clock = CLOCKS[self.params.mode](self)
        stream = {"stdout": sys.stdout, "stderr": sys.stderr}.get(self.params.console)
        self.console = Console(stream.fileno() if stream is not None else None, self.log.warning)

    # --- the run -----------------------------------------------------------------

    def started(self) -> None:
        p = self.params
        name = p.name or os.path.basename(p.elf_path) or "guest"
        try:
            image = p.elf or _read(p.elf_path)
            program = elf.parse(image, name)
        except (elf.ElfError, OSError) as e:
            self.fail(str(e))
            return
        hooks = {"idle": self._idle, **self.clock.hooks()}
        machine = self.machine = Machine(p.ram_mib << 20, self.console.put, self._poll, poll_every=p.poll_every,
                                         code_cache=CodeCache.default(), **hooks)  # type: ignore[arg-type]
        if p.ide:
            self.ide_window = IdeWindow(p.ide, self.call, self.send, self.clock.push_soon, machine.bus.read_ram,
                                        lambda line: machine.plic.set_level(line, False), RAM_BASE + machine.bus.ram_size)
            machine.bus.attach(self.ide_window)
        else:
            self.absent_ide = AbsentIdeWindow()
            machine.bus.attach(self.absent_ide)
        try:
            machine.load(program)
        except ValueError as e:
            self.fail(f"{name}: {e}")
            return
        self.name_of_guest = name
        began = time.perf_counter()
        try:
            outcome = self.clock.run(machine)
        except GuestHung as e:
            self._console_out()
            self.fail(f"{name}: {e}")
            return
        except Divergence as e:  # the logger ends the replay as diverged (exit 3), as for any divergence
            self._console_out()
            self.send(self.params.logger, ReplayDiverged(f"{name}: {e}"))
            return
        self._console_out()
        self._say_if_disks_were_wanted()
        report = self._report(time.perf_counter() - began)
        report["outcome"] = outcome
        report["console_error"] = self.console.error
        if outcome in ("exit", "limit"):  # (a replay that ran out of log ends where its recording did not)
            self._drain_disks()
        self.clock.exited(machine, report)

    def _say_if_disks_were_wanted(self) -> None:
        touched = self.absent_ide.first_access if self.absent_ide is not None else None
        if touched is not None:
            self.log.warning("the guest accessed the IDE controller's window (first at %#x), but this machine has "
                             "no disks, so it faulted: run it with disks (reel run %s --disk memory:8M ...)",
                             touched, self.name_of_guest)

    def _drain_disks(self) -> None:
        """The guest exited, or reached the run's instruction bound: its disk
        requests still in flight are carried out before the run ends (see
        Drain), so the disks' final content holds every write it issued
        whatever their timing, and a recording and its replays end with the
        same disks. What arrives meanwhile
        changes nothing the report holds: its digests are taken."""
        if not (self.params.ide and self.params.drain_disks):
            return
        self.drained = False
        self.send(self.params.ide, Drain())
        began = time.monotonic()
        until, report_at = began + DRAIN_SECONDS, began + DRAIN_REPORT_SECONDS
        while not self.drained and time.monotonic() < until:
            self.wait(min(report_at, until))
            if not self.drained and report_at <= time.monotonic() < until:
                report_at += DRAIN_REPORT_SECONDS
                self.log.warning("still waiting for the disks to carry out the guest's last requests "
                                 "(%.0f s so far)", time.monotonic() - began)
        if not self.drained:
            self.log.warning("the disks did not carry out the guest's last requests within %g s of its exit; "
                             "their final content may lack some of its writes", DRAIN_SECONDS)

    def on_drained(self, msg: Drained, src: str) -> None:
        self.drained = True
        self.undelivered = msg.undelivered

    def finish_guest(self, machine: Machine, report: dict[str, object]) -> None:
        name = self.name_of_guest
        if report["outcome"] == "limit":
            self.finish(124, f"{name} did not exit within {self.params.max_instructions} instructions", report)
        else:
            code = machine.exit_code or 0
            self.finish(code, f"{name} exited with code {code}", report)

    def on_events_pending(self, msg: EventsPending, src: str) -> None:
        self.clock.events_pending(msg.seq)

    def on_run_to(self, msg: RunTo, src: str) -> None:
        self.clock.run_to(msg)

    def _report(self, seconds: float) -> dict[str, object]:
        m = self.machine
        assert m is not None
        icount = m.icount[0]
        return {
            "icount": icount,
            "seconds": seconds,
            "mips": icount / seconds / 1e6 if seconds > 0 else 0.0,
            "pc": m.pc,
            "state_digest": m.state_digest(),
            "memory_digest": m.memory_digest(self._deaf_housekeeping),
            "interrupts": m.interrupts_taken,
            "interrupt_log": [list(entry) for entry in m.interrupt_log],
            "blocks_translated": m.translator.translated,
            "code_cache": None if m.translator.cache is None else m.translator.cache.report(),
            "peak_rss_mib": peak_rss_mib(),
            "ram_mib": self.params.ram_mib,
        }

    def _deaf_housekeeping(self) -> None:
        """Housekeeping between pieces of a long digest, during which nothing
        is taken (what would arrive could change no digest taken already,
        but its frames would enter this actor's): heartbeats go out, and the
        peers' frames waiting meanwhile do not make them look silent (2 GiB
        of RAM took over the 3 s liveness bound under load, and the cpu left
        as if the launcher were gone)."""
        self.node.was_deaf()
        self._housekeeping()

    # --- what the machine calls ------------------------------------------------------

    def _poll(self) -> None:
        self.flush_console()
        self.poll()
        if self.console.backlog > BACKLOG_LIMIT:  # the reader is slow: wait for it here, serving the inbox
            self.console.drain_all(self.poll)
        self._interrupts_seen()

    def _idle(self) -> None:
        """The guest waits for an external interrupt: block on the inbox
        until something arrives (an IrqLevel, or Stop)."""
        self.flush_console()
        self.wait()
        self._interrupts_seen()

    def _interrupts_seen(self) -> None:
        # The run loop looks for a due interrupt right after a poll or an
        # idle turn: line changes made there need no further notice.
        assert self.machine is not None
        self.machine.irq_changed = False

    def flush_console(self) -> None:
        """Write the guest's output as far as the console takes it now."""
        self.console.drain()

    def _console_out(self) -> None:
        """The guest is done: all its output goes out, the inbox served
        meanwhile; if the run is being stopped, ``stopping`` has the rest."""
        try:
            self.console.drain_all(self.poll)
        except ActorStopped:
            pass

    def stopping(self) -> None:
        self.console.drain_all(lambda: None, time.monotonic() + STOP_DRAIN_SECONDS)

    # --- the device's side of the window (see actors.schema) -----------------------

    def on_dma_read(self, msg: DmaRead, src: str) -> None:
        assert self.machine is not None
        try:
            data = self.machine.bus.read_ram(msg.address, msg.length)
        except ValueError as e:
            self.send(src, DmaData(msg.address, b"", str(e)))
            return
        self.send(src, DmaData(msg.address, data))

    def on_dma_write(self, msg: DmaWrite, src: str) -> None:
        assert self.machine is not None
        try:
            self.machine.bus.write_ram(msg.address, msg.data)
        except ValueError as e:
            self.fail(f"DMA write from {src!r}: {e}")

    def on_register_snapshot(self, msg: RegisterSnapshot, src: str) -> None:
        if self.ide_window is not None:
            self.ide_window.snapshot(msg)

    def on_pio_fill(self, msg: PioFill, src: str) -> None:
        if self.ide_window is not None:
            self.ide_window.pio_fill(msg)

    def on_pio_expect(self, msg: PioExpect, src: str) -> None:
        if self.ide_window is not None:
            self.ide_window.pio_expect(msg)

    def on_block_completion(self, msg: BlockCompletion, src: str) -> None:
        """The data of a large DMA read, sent here by its disk as the ide
        asked (BlockRequest.data_to): it waits for the DmaScatter that names
        it. (One that came first takes it out of turn: see ``_read_data``.)"""
        if len(self.parked) >= MAX_PARKED:
            self.fail(f"holds the data of {len(self.parked)} disk reads that no DmaScatter named "
                      f"(requests {sorted(self.parked)[:8]}...): the ide lets none go")
            return
        self.parked[msg.id] = msg.data

    def _read_data(self, request: int) -> bytes:
        """What disk request ``request`` read, which its disk sent here. Its
        status went to the ide, which may have answered with the DmaScatter
        that asks for it before the data (a larger message) got here: then
        the data is taken out of turn, and what else arrives meanwhile stays
        pending, in order, for the loop that dispatched this handler (one
        waiting for an MMIO read's value must still find it there)."""
        data = self.parked.pop(request, None)
        if data is None:
            msg, _ = self.take_first(lambda m, src: type(m) is BlockCompletion and m.id == request,
                                     f"the data of disk request {request} (named by the ide's DmaScatter)")
            data = msg.data  # type: ignore[attr-defined]
        return data

    def on_dma_scatter(self, msg: DmaScatter, src: str) -> None:
        assert self.machine is not None
        data = msg.data if msg.parked < 0 else self._read_data(msg.parked)
        try:
            self.machine.bus.scatter(msg.ranges, data)
        except ValueError as e:
            self.fail(f"DMA write from {src!r}: {e}")

    def on_irq_level(self, msg: IrqLevel, src: str) -> None:
        assert self.machine is not None
        try:
            self.machine.plic.set_level(msg.line, msg.high)
        except ValueError as e:
            self.fail(f"interrupt line from {src!r}: {e}")


def _read(path: str) -> bytes:
    if not path:
        raise OSError("no program given (params elf or elf_path)")
    with open(path, "rb") as f:
        return f.read()
