"""Large DMA reads whose data goes from the disk straight to the cpu
(Ide.Params.direct_reads):
the ide and the cpu actors alone, driven by messages (their sends recorded,
no sockets used). End to end, disktest's 256-sector DMA read takes this path
in every ide-direct run (tests/test_disks.py)."""

from __future__ import annotations

import errno
import struct

import pytest

from actors._node import Node
from actors._spec import ActorSpec
from actors.cpu.bus import RAM_BASE
from actors.cpu import Cpu, Machine
from actors.ide import Ide, registers as r
from actors.ide.actor import DIRECT_MIN
from actors._errors import ActorStopped
from actors.schema import BlockCompletion, BlockRequest, DmaScatter, DmaStart, IrqLevel, MmioWrite, Stop

Sent = list[tuple[str, object]]


def _actor(cls: type, name: str, params: dict, node: Node | None = None) -> tuple[object, Sent]:
    spec = ActorSpec("unit", name, f"{cls.__module__}:{cls.__name__}", params, bind="", launcher="", peers=[])
    actor = cls(spec, node or Node(name, []))
    sent: Sent = []
    actor.send = lambda peer, msg: sent.append((peer, msg))  # type: ignore[method-assign]
    return actor, sent


@pytest.fixture
def ide() -> tuple[Ide, Sent]:
    actor, sent = _actor(Ide, "ide", {"cpu": "cpu", "disks": [{"peer": "disk0", "sectors": 8192}],
                                      "direct_reads": True})
    yield actor, sent  # type: ignore[misc]
    actor.node.close()  # type: ignore[attr-defined]


def _read_dma(ide: Ide, sent: Sent, sectors: int, entries: list[tuple[int, int]]) -> BlockRequest:
    """READ DMA EXT of ``sectors`` at LBA 0 on channel 0 through ``entries``;
    the request the ide sends its disk."""
    task = r.TASK_FILE[0]
    for reg, value in ((r.SECTOR_COUNT, sectors >> 8), (r.SECTOR_COUNT, sectors & 0xFF),
                       (r.DEVICE, r.DEV_LBA), (r.COMMAND, 0x25)):
        ide.on_mmio_write(MmioWrite(task + reg, 1, value), "cpu")
    table = b"".join(struct.pack("<IHH", address, length & 0xFFFF, r.PRD_EOT if i == len(entries) - 1 else 0)
                     for i, (address, length) in enumerate(entries))
    ide.on_dma_start(DmaStart(0, r.BMIC_START | r.BMIC_TO_MEMORY, table, b""), "cpu")
    (peer, request), = [(p, m) for p, m in sent if isinstance(m, BlockRequest)]
    sent.clear()
    assert peer == "disk0"
    return request


def test_a_large_read_s_data_goes_to_the_cpu_and_its_scatter_names_it(ide) -> None:
    actor, sent = ide
    request = _read_dma(actor, sent, 256, [(RAM_BASE + 0x8000, 0x10000), (RAM_BASE, 0x10000)])
    assert request.length == 256 * 512 >= DIRECT_MIN and request.data_to == "cpu"
    actor.on_block_completion(BlockCompletion(request.id, 0), "disk0")  # its data went to the cpu
    scatter, = [m for _, m in sent if isinstance(m, DmaScatter)]
    assert scatter == DmaScatter([(RAM_BASE + 0x8000, 0x10000), (RAM_BASE, 0x10000)], b"", request.id)
    assert any(isinstance(m, IrqLevel) and m.high for _, m in sent)  # the command ended as ever
    assert actor.parked == set()


def test_a_small_read_brings_its_data_back_through_the_ide(ide) -> None:
    """Below DIRECT_MIN the data, registers and interrupt reach the cpu in one frame from the ide."""
    actor, sent = ide
    request = _read_dma(actor, sent, 8, [(RAM_BASE, 4096)])
    assert request.data_to == ""
    actor.on_block_completion(BlockCompletion(request.id, 0, b"\x5a" * 4096), "disk0")
    scatter, = [m for _, m in sent if isinstance(m, DmaScatter)]
    assert scatter == DmaScatter([(RAM_BASE, 4096)], b"\x5a" * 4096)


def test_a_failed_large_read_lets_the_cpu_drop_its_data(ide) -> None:
    actor, sent = ide
    request = _read_dma(actor, sent, 256, [(RAM_BASE, 0x10000), (RAM_BASE + 0x10000, 0x10000)])
    actor.on_block_completion(BlockCompletion(request.id, errno.EIO, b"", "EIO"), "disk0")
    assert [m for _, m in sent if isinstance(m, DmaScatter)] == [DmaScatter([], b"", request.id)]
    assert actor.parked == set()


def test_a_large_read_reset_in_flight_lets_the_cpu_drop_it_too(ide) -> None:
    actor, sent = ide
    request = _read_dma(actor, sent, 256, [(RAM_BASE, 0x10000), (RAM_BASE + 0x10000, 0x10000)])
    actor.on_mmio_write(MmioWrite(r.TASK_FILE[0] + r.DEVICE_CONTROL, 1, r.CTL_SRST), "cpu")  # software reset
    actor.on_mmio_write(MmioWrite(r.TASK_FILE[0] + r.DEVICE_CONTROL, 1, 0), "cpu")
    sent.clear()
    actor.on_block_completion(BlockCompletion(request.id, 0), "disk0")
    assert [m for _, m in sent if isinstance(m, DmaScatter)] == [DmaScatter([], b"", request.id)]


@pytest.fixture
def cpu() -> tuple[Cpu, Sent]:
    actor, sent = _actor(Cpu, "cpu", {"ide": "ide", "console": "none"})
    actor.machine = Machine(1 << 20)  # type: ignore[attr-defined]
    yield actor, sent  # type: ignore[misc]
    actor.node.close()  # type: ignore[attr-defined]


DATA = bytes(range(256)) * 512  # 128 KiB
REGIONS = [(RAM_BASE + 4096, 0x10000), (RAM_BASE, 0x10000)]


def _scattered(actor: Cpu) -> bool:
    bus = actor.machine.bus  # type: ignore[union-attr]
    return bus.read_ram(RAM_BASE + 4096, 0x10000) == DATA[:0x10000] and bus.read_ram(RAM_BASE, 0x10000) == DATA[0x10000:]


def test_the_cpu_holds_a_read_s_data_until_its_scatter(cpu) -> None:
    actor, sent = cpu
    actor.on_block_completion(BlockCompletion(7, 0, DATA), "disk0")
    assert sent == [] and actor.parked == {7: DATA}
    actor.on_dma_scatter(DmaScatter(REGIONS, b"", 7), "ide")
    assert _scattered(actor) and actor.parked == {}


def test_a_scatter_ahead_of_its_data_takes_the_data_out_of_turn(cpu) -> None:
    """The ide's DmaScatter can overtake the larger message with the data:
    the cpu takes that one, and whatever came before it stays pending in
    order (an outer wait for an MMIO value must still find its reply)."""
    actor, _ = cpu
    pending = actor.node.pending
    pending.extend([(IrqLevel(1, True), "ide"), (BlockCompletion(7, 0, DATA), "disk0")])
    actor.on_dma_scatter(DmaScatter(REGIONS, b"", 7), "ide")
    assert _scattered(actor) and list(pending) == [(IrqLevel(1, True), "ide")]


def test_an_empty_scatter_drops_the_data_and_a_stop_ends_the_wait(cpu) -> None:
    actor, _ = cpu
    actor.on_block_completion(BlockCompletion(3, 0, b"x" * DIRECT_MIN), "disk0")
    actor.on_dma_scatter(DmaScatter([], b"", 3), "ide")
    assert actor.parked == {} and actor.machine.bus.read_ram(RAM_BASE, 4) == bytes(4)
    actor.node.pending.append((Stop("the run ends"), "launcher"))
    with pytest.raises(ActorStopped):
        actor.on_dma_scatter(DmaScatter(REGIONS, b"", 4), "ide")  # data that never comes


def _disk(links: list[tuple[str, bool]]) -> tuple[object, Sent]:
    """An inline disk of 1 MiB in memory, started, with these links."""
    from actors.image.actor import InlineImage

    actor, sent = _actor(InlineImage, "disk0", {"backend": "memory", "size": 1 << 20}, Node("disk0", links))
    actor.started()  # type: ignore[attr-defined]
    return actor, sent


@pytest.fixture
def disk() -> tuple[object, Sent]:
    actor, sent = _disk([("ide", False), ("cpu", False)])
    yield actor, sent
    actor.node.close()


def test_the_disk_sends_a_large_read_s_status_to_the_ide_first_and_its_data_to_the_cpu(disk) -> None:
    """The status leaves first (flushed), so that the ide handles it while the data travels."""
    actor, sent = disk
    flushed_at: list[int] = []
    actor.flush = lambda: flushed_at.append(len(sent))  # type: ignore[method-assign]
    content = bytes(range(251)) * 4000
    actor.backend.write(0, content)
    actor.on_block_request(BlockRequest(9, "read", 1000, 600 * 1024, data_to="cpu"), "ide")
    assert sent == [("ide", BlockCompletion(9, 0, b"", "")),
                    ("cpu", BlockCompletion(9, 0, content[1000:1000 + 600 * 1024], ""))]
    assert flushed_at == [1]


def test_a_refused_large_read_still_completes_to_both(disk) -> None:
    """The cpu waits for the data of a request the ide lets go: it gets an empty completion."""
    actor, sent = disk
    actor.on_block_request(BlockRequest(4, "read", 1 << 20, 1 << 16, data_to="cpu"), "ide")  # past the end
    assert [(p, type(m).__name__, m.status != 0, m.data) for p, m in sent] == [
        ("ide", "BlockCompletion", True, b""), ("cpu", "BlockCompletion", True, b"")]


def test_data_for_a_peer_the_disk_has_no_link_to_fails_the_disk() -> None:
    actor, _ = _disk([("ide", False)])
    failures: list[str] = []
    actor.fail = failures.append  # type: ignore[method-assign]
    actor.on_block_request(BlockRequest(2, "read", 0, 1 << 16, data_to="cpu"), "ide")
    actor.node.close()
    assert failures == ["disk disk0: request 2 from 'ide' sends its data to 'cpu', but this disk has no link to 'cpu'"]


def test_direct_reads_are_refused_with_blkreplay() -> None:
    """blkreplay sends a read's data back through the ide: a cpu told its data
    went elsewhere would wait for it for good (found by a review helper)."""
    import msgspec

    with pytest.raises(msgspec.ValidationError, match="direct_reads cannot be used with blkreplay"):
        msgspec.convert({"direct_reads": True, "blkreplay": "blkreplay"}, Ide.Params)


def test_data_that_never_comes_fails_the_cpu_naming_the_request() -> None:
    """Every peer alive and the data still missing: only a protocol slip
    explains it, and the wait ends with an error rather than in silence."""
    import time

    import zmq

    actor, _ = _actor(Cpu, "cpu", {"ide": "ide", "console": "none"}, Node("cpu", [], liveness=0.2))
    actor.machine = Machine(1 << 20)
    actor.node.inbox.setsockopt(zmq.RCVTIMEO, 20)
    failures: list[str] = []

    def fail(reason: str) -> None:  # as the launcher would, it stops the run
        failures.append(reason)
        actor.node.pending.append((Stop("an actor failed"), "launcher"))

    actor.fail = fail  # type: ignore[method-assign]
    began = time.monotonic()
    with pytest.raises(ActorStopped):
        actor.on_dma_scatter(DmaScatter(REGIONS, b"", 5), "ide")
    actor.node.close()
    assert 0.6 <= time.monotonic() - began < 3
    assert failures == ["cpu: waited 0.6 s for the data of disk request 5 (named by the ide's DmaScatter), "
                        "which did not come"]


def test_a_disk_that_knows_no_data_to_still_gets_its_data_to_memory(ide) -> None:
    """A swapped-in disk implementation that ignores data_to answers with
    the data, as before: it goes on to the cpu in the DmaScatter."""
    actor, sent = ide
    request = _read_dma(actor, sent, 256, [(RAM_BASE, 0x10000), (RAM_BASE + 0x10000, 0x10000)])
    actor.on_block_completion(BlockCompletion(request.id, 0, b"\x77" * 0x20000), "disk0")
    scatter, = [m for _, m in sent if isinstance(m, DmaScatter)]
    assert scatter == DmaScatter([(RAM_BASE, 0x10000), (RAM_BASE + 0x10000, 0x10000)], b"\x77" * 0x20000)
    assert actor.parked == set()
