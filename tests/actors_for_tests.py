"""Actor implementations that only tests use. They run in real actor
processes, which import this module by its path on PYTHONPATH."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import msgspec

from actors import AsyncActor, BlockingActor, schema
from actors.image import InlineImage
from actors.image.actor import ImageParams
from actors.schema import (
    BlockCompletion,
    BlockRequest,
    DmaData,
    DmaRead,
    DmaStart,
    DmaWrite,
    IrqLevel,
    MmioRead,
    MmioValue,
    MmioWrite,
    Ping,
    Pong,
    StatsReply,
    StatsRequest,
)


class _NewerKind(msgspec.Struct, tag=199, array_like=True):
    """The message kind that "another build" added to its schema."""

    value: int


class Skewed(BlockingActor):
    """An actor from another build: its schema has one more message kind, so
    its schema hash differs from everyone else's. Constructing it switches
    its own process to that build's hash (only its process: actors share no
    memory)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        schema.SCHEMA_HASH = schema.schema_hash(schema.MESSAGE_TYPES + (_NewerKind,))
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


class Pinger(BlockingActor):
    """Waits until the echo server has counted ``garbage`` malformed frames
    (asking it with StatsRequest), then makes ``count`` round trips and
    finishes with what it saw."""

    class Params(msgspec.Struct, forbid_unknown_fields=True):
        count: int = 100
        garbage: int = 0
        server: str = "echo"

    def started(self) -> None:
        p = self.params
        stats = self._server_stats()
        while sum(stats.malformed.values()) < p.garbage:
            self.poll()
            stats = self._server_stats()
        for n in range(p.count):
            pong = self.call(p.server, Ping(n, n.to_bytes(4, "little")), Pong)
            if pong.n != n or bytes(pong.data) != n.to_bytes(4, "little"):
                self.finish(1, f"pong {pong.n} answered ping {n}")
                return
        stats = self._server_stats()
        self.finish(0, f"{p.count} round trips after {sum(stats.malformed.values())} malformed frames",
                    {"pongs": p.count, "malformed": stats.malformed, "unhandled": stats.unhandled})

    def _server_stats(self) -> schema.ActorStats:
        self._token = getattr(self, "_token", 0) + 1
        return self.call(self.params.server, StatsRequest(self._token), StatsReply).stats


class Crasher(BlockingActor):
    """Raises from its start hook: the launcher must report the error."""

    def started(self) -> None:
        raise RuntimeError("deliberate failure in started()")


class CodeFinisher(BlockingActor):
    """Finishes at once with the code its parameters give."""

    class Params(msgspec.Struct, forbid_unknown_fields=True):
        code: int = 0

    def started(self) -> None:
        self.finish(self.params.code, f"finished with {self.params.code}")


class _WrongDiskParams(ImageParams, forbid_unknown_fields=True):
    mode: str = "wrong_id"  # or "short": half a read's data; "status": a status that is no errno value;
    # "dma": a write of guest memory sent to the cpu itself, as only the ide may; "mute": no answer to writes


class WrongDisk(InlineImage):
    """A disk swapped in that answers wrongly: a request id the ide never
    sent, a read with half its data, a status that is no errno value, or a
    DMA write of its own to the cpu (a component swap gone wrong)."""

    Params = _WrongDiskParams

    def _complete(self, src: str, msg: BlockRequest, result: Any) -> None:
        if self.params.mode == "wrong_id":
            self.send(src, BlockCompletion(msg.id + 1000, result.status, result.data, result.error))
        elif self.params.mode == "mute" and msg.op == "write":
            pass  # alive (its heartbeats go on), and never answers
        elif self.params.mode == "dma":
            self.send("cpu", DmaWrite(0x80000000, bytes(4096)))
            super()._complete(src, msg, result)
        elif self.params.mode == "status":
            self.send(src, BlockCompletion(msg.id, 1 << 40, b"", "a disk of its own errors"))
        elif msg.op == "read" and result.data:
            self.send(src, BlockCompletion(msg.id, result.status, bytes(result.data)[:len(result.data) // 2], ""))
        else:
            super()._complete(src, msg, result)


class PlainInline(InlineImage):
    """An InlineImage subclass that changes nothing."""


class MuteIde(BlockingActor):
    """An ide swapped in that answers nothing (its messages go unhandled)."""


class StopRaiser(BlockingActor):
    """Finishes its work, then fails in its stopping hook."""

    def started(self) -> None:
        self.finish(0, "done")

    def stopping(self) -> None:
        raise RuntimeError("deliberate failure in stopping()")


class Orphan(BlockingActor):
    """Finds its launcher gone as it finishes its work (as a cpu did whose
    RAM digest outlasted the liveness bound): it reports nothing and leaves,
    with no traceback."""

    def started(self) -> None:
        from actors._actor import EXIT_ORPHANED
        from actors._node import LAUNCHER

        self.node.mark_lost(LAUNCHER)
        self.exit_code = EXIT_ORPHANED
        self.request_stop("launcher lost")
        self.finish(0, "done")
        self.fail("and then this")


class Quitter(BlockingActor):
    """Exits the process on its own, without a word, mid-run."""

    class Params(msgspec.Struct, forbid_unknown_fields=True):
        code: int = 3

    def started(self) -> None:
        os._exit(self.params.code)


class Forker(BlockingActor):
    """Starts a helper process (a long sleep), notes its pid in
    ``pid_file``, then ends as ``then`` says: "finish" (the run's work is
    done), "quit" (exits on its own) or "wait" (runs until stopped)."""

    class Params(msgspec.Struct, forbid_unknown_fields=True):
        pid_file: str
        then: str = "finish"
        session: bool = False  # the helper leaves the process group for a session of its own

    def started(self) -> None:
        import subprocess

        helper = subprocess.Popen(["sleep", "600"], start_new_session=self.params.session)
        with open(self.params.pid_file + ".part", "w") as f:
            f.write(str(helper.pid))
        os.replace(self.params.pid_file + ".part", self.params.pid_file)
        if self.params.then == "finish":
            self.finish(0, "helper started")
        elif self.params.then == "quit":
            os._exit(4)


class SelfKiller(BlockingActor):
    """Sends itself SIGKILL once started."""

    def started(self) -> None:
        os.kill(os.getpid(), signal.SIGKILL)


class WindowDevice(BlockingActor):
    """A stand-in for the IDE behind the cpu's window (tests/guests/window.c)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.dma_value = 0

    def on_mmio_read(self, msg: MmioRead, src: str) -> None:
        if msg.offset == 0:
            self.send(src, DmaWrite(0x8010_0000, b"DMA!"))  # lands before the value
            self.send(src, MmioValue(0x1234))
        elif msg.offset == 4:
            self.send(src, IrqLevel(1, True))
            self.send(src, MmioValue(7))
        elif msg.offset == 16:
            self.send(src, MmioValue(self.dma_value))
        elif msg.offset == 20:
            data = self.call(src, DmaRead(0x8010_0000, 4), DmaData).data
            self.send(src, MmioValue(int.from_bytes(data, "little")))
        else:
            self.send(src, MmioValue(0))

    def on_mmio_write(self, msg: MmioWrite, src: str) -> None:
        if msg.offset == 8:
            self.send(src, IrqLevel(1, False))

    def on_dma_start(self, msg: DmaStart, src: str) -> None:
        self.dma_value = int.from_bytes(msg.data[:4], "little")


class BlockClient(AsyncActor):
    """Sends block requests to a disk and reports what came back, in order of
    arrival: to see concurrency, error completions and data."""

    class Params(msgspec.Struct, forbid_unknown_fields=True):
        disk: str = "disk"
        requests: list[tuple[str, int, int, bytes]] = []  # (op, offset, length, data)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.answers: list[list[object]] = []

    def started(self) -> None:
        for request_id, (op, offset, length, data) in enumerate(self.params.requests):
            self.send(self.params.disk, BlockRequest(request_id, op, offset, length, data))

    def on_block_completion(self, msg: BlockCompletion, src: str) -> None:
        self.answers.append([msg.id, msg.status, bytes(msg.data).hex() if len(msg.data) <= 64 else
                             f"{len(msg.data)} bytes", msg.error])
        if len(self.answers) == len(self.params.requests):
            self.finish(0, "all answered", {"answers": self.answers})


class Chatter(BlockingActor):
    """Sends ``peer`` a Ping every ``gap`` seconds for ``seconds``, then the
    Pong it waits for, then finishes."""

    class Params(msgspec.Struct, forbid_unknown_fields=True):
        peer: str = "waiter"
        seconds: float = 2.5
        gap: float = 0.005

    def started(self) -> None:
        p = self.params
        end = time.monotonic() + p.seconds
        n = 0
        while time.monotonic() < end:
            self.send(p.peer, Ping(n, b""))
            self.poll()  # flushes, and keeps this actor's own heartbeats going
            time.sleep(p.gap)
            n += 1
        self.send(p.peer, Pong(n, b""))
        self.finish(0, f"{n} pings, then the pong")


class Waiter(BlockingActor):
    """Waits for one Pong from ``peer`` while Pings keep arriving (each
    answered by nothing): a wait that never times out."""

    class Params(msgspec.Struct, forbid_unknown_fields=True):
        peer: str = "chatter"

    def on_ping(self, msg: Ping, src: str) -> None:
        self.pings = getattr(self, "pings", 0) + 1

    def started(self) -> None:
        self.wait_for(self.params.peer, Pong)
        self.finish(0, f"the pong came after {getattr(self, 'pings', 0)} pings")
