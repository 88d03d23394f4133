"""The image actor: one disk's backend, serving block requests.

Requests come from the ide (or blkreplay) and are answered by completions
carrying the same id. Requests run concurrently: each waits out its drawn
latency, then runs on a small thread pool (raw files), so completions can
come back in another order than the requests, as they do on a real host.
With no latency configured, a request of at most ``INLINE_MAX`` bytes runs
at once on the event loop: a pread from the page cache takes about 1 us,
the hop to a pool thread about 13 us here.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Literal

import msgspec

from .._async import AsyncActor
from ..schema import BlockCompletion, BlockRequest, DiskDigest, DiskDigestRequest
from .backends import Backend, Memory, RawFile, Result, check, content_digest
from .faults import DiskFault, injected
from .latency import Latency, LatencyError

INLINE_MAX = 1 << 20


class Image(AsyncActor):
    class Params(msgspec.Struct, forbid_unknown_fields=True):
        backend: Literal["raw", "memory"] = "raw"
        path: str = ""  # raw: the image file on this actor's host
        size: int = 0  # memory: the disk's size in bytes
        base: str = ""  # memory: a file whose content the disk starts with
        latency: str = "none"  # see actors.image.latency
        seed: int = 0
        threads: int = 4
        faults: list[DiskFault] = []  # injected by the run's fault plan

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.backend: Backend | None = None
        self.pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.latency = Latency()
        self.requests = 0
        self.errors = 0

    def started(self) -> None:
        self._open()

    def _open(self) -> None:
        """Open the backend: at Start, or at the first request if a peer's
        Start came first (peers may talk before our own Start arrives)."""
        if self.backend is not None or self.pool is not None:
            return
        p = self.params
        try:
            self.latency = Latency(p.latency, p.seed)
            if p.backend == "raw":
                if not p.path:
                    raise ValueError("the raw backend needs a path")
                self.backend = RawFile(p.path)
                self.pool = concurrent.futures.ThreadPoolExecutor(p.threads, thread_name_prefix=f"{self.name}-io")
            else:
                content = b""
                if p.base:
                    with open(p.base, "rb") as f:
                        content = f.read()
                size = p.size or len(content)
                if size <= 0:
                    raise ValueError(f"the memory backend needs a positive size, not {size}")
                self.backend = Memory(size, content)
        except (OSError, ValueError, LatencyError) as e:
            self.fail(f"disk {self.name}: {e}")

    def stopping(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        if self.backend is not None:
            self.backend.close()

    def on_block_request(self, msg: BlockRequest, src: str) -> object:
        if self.backend is None:
            self._open()
        backend = self.backend
        self.requests += 1
        if backend is None:
            self.send(src, BlockCompletion(msg.id, 5, error=f"disk {self.name} is not open"))
            return None
        bad = check(backend.size, msg.op, msg.offset, msg.length, len(msg.data))
        if bad is None and self.params.faults:
            bad = injected(self.params.faults, self.requests, msg.op, msg.offset, msg.length)
        if bad is not None:
            return self._complete(src, msg.id, bad)
        delay = self.latency.draw()
        if delay == 0 and (self.pool is None or msg.length <= INLINE_MAX):
            return self._complete(src, msg.id, self._run(msg))
        return self._later(src, msg, delay)

    async def _later(self, src: str, msg: BlockRequest, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        if self.stop_requested:
            return  # the run is ending (the pool may be shut): nobody waits for this any more
        if self.pool is None:
            result = self._run(msg)
        else:
            result = await asyncio.get_running_loop().run_in_executor(self.pool, self._run, msg)
        self._complete(src, msg.id, result)

    def on_disk_digest_request(self, msg: DiskDigestRequest, src: str) -> object:
        return self._digest(src)

    async def _digest(self, src: str) -> None:
        if self.backend is None:
            self._open()
        backend = self.backend
        assert backend is not None
        digest = await asyncio.get_running_loop().run_in_executor(None, content_digest, backend)
        self.send(src, DiskDigest(digest, backend.size))

    def _run(self, msg: BlockRequest) -> Result:
        assert self.backend is not None
        if msg.op == "read":
            return self.backend.read(msg.offset, msg.length)
        if msg.op == "write":
            return self.backend.write(msg.offset, msg.data)
        return self.backend.flush()

    def _complete(self, src: str, request: int, result: Result) -> None:
        if result.status:
            self.errors += 1
            self.log.warning("request %d: %s", request, result.error)
        self.send(src, BlockCompletion(request, result.status, result.data, result.error))
