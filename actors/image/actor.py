"""The image actor: one disk's backend, serving block requests.

Requests come from the ide (or blkreplay) and are answered by completions
carrying the same id. The actor runs on the driver that serves its disk
best, chosen once from its parameters (``Image.serving``):

* ``Image`` (asyncio): a disk with latency. Requests run concurrently: each
  waits out its drawn latency, then runs on a small thread pool (raw
  files), so completions can come back in another order than the requests,
  as they do on a real host.
* ``InlineImage`` (blocking): a disk with no latency, where each request is
  served at once, in arrival order, on the thread that reads the inbox.
  The pool would only add its hop (a pread from the page cache takes about
  1 us here, the hop to a pool thread about 13 us) and the event loop its
  wake-up: on ``diskqd1`` the completion's hop to the ide took a median
  of 70 us from a blocking image against 115-122 us from an asyncio one.

Both check every request against the disk and the run's fault plan first;
an I/O error becomes an error completion, never a crash.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Annotated, Any, ClassVar, Literal, cast

import msgspec

from .._actor import Actor
from .._async import AsyncActor
from .._blocking import BlockingActor
from ..schema import BlockCompletion, BlockRequest, DiskDigest, DiskDigestRequest, Drain, Drained
from .backends import Backend, Memory, RawFile, Result, check, content_digest
from .faults import DiskFault, striking
from .latency import Latency, LatencyError

INLINE_MAX = 1 << 20
"""On a disk with latency, a request with a zero draw and at most this many
bytes runs at once on the event loop rather than on the pool."""


class ImageParams(msgspec.Struct, forbid_unknown_fields=True):
    backend: Literal["raw", "memory"] = "raw"
    path: str = ""  # raw: the image file on this actor's host
    size: int = 0  # memory: the disk's size in bytes
    base: str = ""  # memory: a file whose content the disk starts with
    base_digest: str = ""  # ... and the xxh3-128 that content must have ("": any)
    latency: str = "none"  # see actors.image.latency
    seed: int = 0
    threads: Annotated[int, msgspec.Meta(ge=1)] = 4  # raw, with latency: the pool's threads
    faults: list[DiskFault] = []  # injected by the run's fault plan


def _check_base(path: str, found: str, digest: str) -> None:
    """A memory disk's base must hold what its run's log names (``found``:
    the digest of what was loaded): the base was read for its identity
    before, and something may have written it since."""
    if digest and found != digest:
        raise ValueError(f"base {path} changed after its identity was read: it holds content {found}, the run "
                         f"expects {digest} (was something writing it?)")


class _Disk:
    """What both drivers share: the backend, the checks, the completions.
    Mixed in before the driver's class."""

    Params: ClassVar[type[msgspec.Struct]] = ImageParams
    params: ImageParams
    name: str
    send: Any  # (the driver's, as the rest of these)
    flush: Any
    log: Any
    fail: Any
    node: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.backend: Backend | None = None
        self.latency = Latency()
        self.requests = 0
        self.errors = 0
        self.in_flight = 0  # requests taken but not yet answered (only a disk with latency has any)
        self.drains: list[str] = []  # peers whose Drain waits for them

    def on_drain(self, msg: Drain, src: str) -> None:
        """Answered once every request that came before it is done (see Drain)."""
        self.drains.append(src)
        self._drained_if_done()

    def _drained_if_done(self) -> None:
        if not self.in_flight:
            for peer in self.drains:
                self.send(peer, Drained())
            self.drains.clear()

    def started(self) -> None:
        self._open()

    def _open(self) -> None:
        """Open the backend: at Start, or at the first request if a peer's
        Start came first (peers may talk before our own Start arrives)."""
        if self.backend is not None:
            return
        p = self.params
        try:
            self.latency = Latency(p.latency, p.seed)
            if p.backend == "raw":
                if not p.path:
                    raise ValueError("the raw backend needs a path")
                self.backend = RawFile(p.path)
            elif p.base:
                memory, found = Memory.loaded(p.base, p.size, self._keep_alive)
                _check_base(p.base, found, p.base_digest)
                self.backend = memory
            else:
                self.backend = Memory(p.size)
        except (OSError, ValueError, LatencyError) as e:
            self.fail(f"disk {self.name}: {e}")

    def _keep_alive(self, done: int) -> None:
        """Between the chunks of a long load (a base of GiBs): heartbeats go
        on, and the peers' frames, which wait unread meanwhile (a request
        then would start the load again), are not held against them."""
        self.node.was_deaf()
        self.node.tick()

    def stopping(self) -> None:
        if self.backend is not None:
            self.backend.close()

    def _refused(self, msg: BlockRequest) -> Result | None:
        """Count the request; the failed result it gets without running (no
        backend, out of bounds, malformed, or hit by a planned fault), if any."""
        if self.backend is None:
            self._open()
        self.requests += 1
        if self.backend is None:
            return Result(5, error=f"disk {self.name} is not open")
        bad = check(self.backend.size, msg.op, msg.offset, msg.length, len(msg.data))
        if bad is None and self.params.faults:
            hit = striking(self.params.faults, self.requests, msg.op, msg.offset, msg.length)
            for fault in hit:
                self.node.note_struck(fault.spec)
            if hit:
                bad = hit[0].result(self.requests)
        return bad

    def _run(self, msg: BlockRequest) -> Result:
        assert self.backend is not None
        if msg.op == "read":
            return self.backend.read(msg.offset, msg.length)
        if msg.op == "write":
            return self.backend.write(msg.offset, msg.data)
        return self.backend.flush()

    def _complete(self, src: str, msg: BlockRequest, result: Result) -> None:
        """Send request ``msg``'s completion back to ``src`` that sent it.
        With a ``data_to``, that completion goes without the data, and at
        once; then the data goes to ``data_to`` in a completion of its own
        (even an empty one: that peer waits for it). In this order the
        sender handles the completion while the data travels: sending 1 MiB
        took the disk ~240 us here, which the status used to wait behind."""
        if result.status:
            self.errors += 1
            self.log.warning("request %d from %s: %s", msg.id, src, result.error)
        data = cast(bytes, result.data)  # (a view of a raw file's mapping travels as its bytes)
        if not msg.data_to:
            self.send(src, BlockCompletion(msg.id, result.status, data, result.error))
            return
        if msg.data_to not in self.node.links:
            self.fail(f"disk {self.name}: request {msg.id} from {src!r} sends its data to {msg.data_to!r}, "
                      f"but this disk has no link to {msg.data_to!r}")
            return
        self.send(src, BlockCompletion(msg.id, result.status, b"", result.error))
        self.flush()
        self.send(msg.data_to, BlockCompletion(msg.id, result.status, data, result.error))

    def _opened(self) -> Backend:
        if self.backend is None:
            self._open()
        if self.backend is None:
            raise RuntimeError(f"disk {self.name} is not open")
        return self.backend


class Image(_Disk, AsyncActor):
    """A disk with latency: requests run concurrently (see the module)."""

    @classmethod
    def serving(cls, params: dict[str, Any]) -> type[Actor]:
        """``InlineImage`` for a disk with no latency; this class otherwise,
        and for parameters it cannot read (it reports them once started). A
        subclass runs as itself: the class a topology names is the one that
        runs (swapped for the stock one, its own code was silently left out)."""
        if cls is not Image:
            return cls
        try:
            zero = Latency(msgspec.convert(params, ImageParams).latency).zero
        except (msgspec.ValidationError, LatencyError):
            return cls
        return InlineImage if zero else cls

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pool: concurrent.futures.ThreadPoolExecutor | None = None

    def stopping(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        super().stopping()

    def on_block_request(self, msg: BlockRequest, src: str) -> object:
        bad = self._refused(msg)
        if bad is not None:
            self._complete(src, msg, bad)
            return None
        delay = self.latency.draw()
        if delay == 0 and (not isinstance(self.backend, RawFile) or msg.length <= INLINE_MAX):
            self._complete(src, msg, self._run(msg))
            return None
        self.in_flight += 1  # (now, not when the task starts: a Drain may come first)
        return self._later(src, msg, delay)

    async def _later(self, src: str, msg: BlockRequest, delay: float) -> None:
        try:
            if delay:
                await asyncio.sleep(delay)
            if self.stop_requested:
                return  # the run is ending (the pool may be shut): nobody waits for this any more
            if isinstance(self.backend, RawFile):
                if self.pool is None:
                    self.pool = concurrent.futures.ThreadPoolExecutor(self.params.threads,
                                                                      thread_name_prefix=f"{self.name}-io")
                result = await asyncio.get_running_loop().run_in_executor(self.pool, self._run, msg)
            else:
                result = self._run(msg)
            self._complete(src, msg, result)
        finally:
            self.in_flight -= 1
            if not self.stop_requested:
                self._drained_if_done()

    def on_disk_digest_request(self, msg: DiskDigestRequest, src: str) -> object:
        return self._digest(src)

    async def _digest(self, src: str) -> None:
        backend = self._opened()  # on the loop: opening may fail the actor
        digest = await asyncio.get_running_loop().run_in_executor(None, content_digest, backend)
        self.send(src, DiskDigest(digest, backend.size))


class InlineImage(_Disk, BlockingActor):
    """A disk with no latency: each request is served as it arrives."""

    @classmethod
    def serving(cls, params: dict[str, Any]) -> type[Actor]:
        """As ``Image`` chooses: named directly with a latency, the disk
        still gets it (on ``Image``) rather than losing it silently. A
        subclass runs as itself (and refuses a latency it cannot give)."""
        return Image.serving(params) if cls is InlineImage else cls

    def started(self) -> None:
        super().started()
        if self.backend is not None and not self.latency.zero:
            self.fail(f"disk {self.name}: {type(self).__name__} serves each request as it arrives and cannot delay "
                      f"it by latency {self.params.latency!r}; derive it from actors.image:Image instead")

    def on_block_request(self, msg: BlockRequest, src: str) -> None:
        bad = self._refused(msg)
        self._complete(src, msg, bad if bad is not None else self._run(msg))

    def on_disk_digest_request(self, msg: DiskDigestRequest, src: str) -> None:
        backend = self._opened()
        self.send(src, DiskDigest(content_digest(backend, between=self.poll), backend.size))
