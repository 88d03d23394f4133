"""A disk guest's compute without its transport, for ``reel bench disk``.

The cpu's machine with its IDE window and the ide's controller, wired
together in this one process: messages are handed from one side to the
other as they are made, and the disk answers each request from a byte
array at once (when the guest idles, as it would wait for a real one).
What is left of a run's time is what the two actors spend computing: the
guest's instructions, its register accesses on both sides, the DMA. The
rest of a real run's time (``reel bench disk`` takes the difference) is
the transport: frames, hops and wake-ups.

The same parts as a real run, and the same message types in the same
order; nothing here takes part in any run or test of the machine.
"""

from __future__ import annotations

import collections
import time
from typing import Any, TypeVar

import msgspec

from actors.cpu.bus import RAM_BASE
from actors.cpu.codecache import CodeCache
from actors.cpu.elf import parse
from actors.cpu.ide_window import IdeWindow
from actors.cpu.machine import Machine
from actors.ide.controller import Controller
from actors.ide.drive import Drive
from actors.schema import (
    DmaScatter,
    DmaStart,
    InterruptAck,
    IrqLevel,
    MmioRead,
    MmioValue,
    MmioWrite,
    PioData,
    PioDrained,
    PioExpect,
    PioFill,
    RegisterSnapshot,
)



T = TypeVar("T", bound=msgspec.Struct)

class IdeEffects:
    """The controller's effects as the ide actor would send them: messages
    for the cpu queued in ``to_cpu``, disk requests in ``requests`` as
    (tag, op, offset, length, data)."""

    def __init__(self) -> None:
        self.to_cpu: collections.deque[msgspec.Struct] = collections.deque()
        self.requests: collections.deque[tuple[int, str, int, int, bytes]] = collections.deque()

    def disk(self, drive: int, op: str, offset: int, length: int, data: bytes, tag: int,
             to_memory: bool = False) -> None:
        self.requests.append((tag, op, offset, length, data))  # (every completion brings its data here)

    def memory_write(self, ranges: list[tuple[int, int]], data: bytes, tag: int = -1) -> None:
        self.to_cpu.append(DmaScatter(ranges, data))

    def irq(self, line: int, high: bool) -> None:
        self.to_cpu.append(IrqLevel(line, high))

    def pio_fill(self, channel: int, transfer: int, data: bytes) -> None:
        self.to_cpu.append(PioFill(channel, transfer, data))

    def pio_expect(self, channel: int, transfer: int, length: int) -> None:
        self.to_cpu.append(PioExpect(channel, transfer, length))

    def snapshot(self, channel: int, slave: bool, status: int, error: int, bm_status: int, pending: bool) -> None:
        self.to_cpu.append(RegisterSnapshot(channel, slave, status, error, bm_status, pending))

    def serve_requests(self, controller: Controller, content: bytearray) -> None:
        """Answer every disk request at once from ``content``, the disk's bytes."""
        while self.requests:
            tag, op, offset, length, data = self.requests.popleft()
            if op == "read":
                controller.disk_done(tag, True, bytes(content[offset:offset + length]))
            else:
                if op == "write":
                    content[offset:offset + len(data)] = data
                controller.disk_done(tag, True)


def to_controller(controller: Controller, msg: msgspec.Struct) -> None:
    """A message of the cpu's side of the window, taken by the controller
    as the ide actor takes it."""
    if type(msg) is MmioWrite:
        controller.write(msg.offset, msg.size, msg.value)
    elif type(msg) is DmaStart:
        controller.dma_start(msg.channel, msg.command, msg.prd, msg.data, msg.reach)
    elif type(msg) is InterruptAck:
        controller.interrupt_acknowledged(msg.channel)
    elif type(msg) is PioDrained:
        controller.pio_drained(msg.channel, msg.transfer)
    elif type(msg) is PioData:
        controller.pio_data(msg.channel, msg.transfer, msg.data)
    else:
        raise TypeError(f"the in-process ide does not take {type(msg).__name__}")


class _Wiring(IdeEffects):
    """Both actors' message handling, reduced to direct calls."""

    def __init__(self, image: bytes, sectors: int) -> None:
        super().__init__()
        self.content = bytearray(sectors * 512)
        self.controller = Controller([Drive(sectors), None, None, None], self)
        self.console = bytearray()
        self.machine = Machine(16 << 20, self.console.append, poll=self.deliver, idle=self.answer_disk,
                               code_cache=CodeCache.default())  # as the cpu actor does
        self.window = IdeWindow("ide", self.call, self.send, lambda: None, self.machine.bus.read_ram,
                                lambda line: self.machine.plic.set_level(line, False),
                                RAM_BASE + self.machine.bus.ram_size)
        self.machine.bus.attach(self.window)
        self.machine.load(parse(image))

    # the cpu's side

    def send(self, peer: str, msg: msgspec.Struct) -> None:
        to_controller(self.controller, msg)

    def call(self, peer: str, msg: msgspec.Struct, reply_type: type[T]) -> T:
        assert isinstance(msg, MmioRead) and reply_type is MmioValue, msg  # (the window's only synchronous access here)
        value = self.controller.read(msg.offset, msg.size)
        self.deliver()  # what the ide sent before its answer arrives first
        return MmioValue(value)  # type: ignore[return-value]

    def deliver(self) -> None:
        m = self.machine
        while self.to_cpu:
            msg = self.to_cpu.popleft()
            if type(msg) is DmaScatter:
                m.bus.scatter(msg.ranges, msg.data)
            elif type(msg) is IrqLevel:
                m.plic.set_level(msg.line, msg.high)
            elif type(msg) is RegisterSnapshot:
                self.window.snapshot(msg)
            elif type(msg) is PioFill:
                self.window.pio_fill(msg)
            elif type(msg) is PioExpect:
                self.window.pio_expect(msg)

    def answer_disk(self) -> None:
        if not self.requests and not self.to_cpu:
            raise RuntimeError("in-process run: the guest waits for an interrupt that nothing will raise")
        self.serve_requests(self.controller, self.content)
        self.deliver()


MAX_INSTRUCTIONS = 200_000_000


def compute_seconds(image: bytes, disk_bytes: int) -> dict[str, Any]:
    """Run a one-disk guest in process to its exit (code 0, or RuntimeError):
    its wall time, icount and console output."""
    wiring = _Wiring(image, disk_bytes // 512)
    began = time.perf_counter()
    outcome = wiring.machine.run(MAX_INSTRUCTIONS)
    seconds = time.perf_counter() - began
    if outcome != "exit" or wiring.machine.exit_code != 0:
        raise RuntimeError(f"in-process run: the guest ended with {outcome}, exit code {wiring.machine.exit_code}, "
                           f"console {bytes(wiring.console)!r}")
    return {"seconds": seconds, "exit_code": wiring.machine.exit_code, "icount": wiring.machine.icount[0],
            "console": bytes(wiring.console)}
