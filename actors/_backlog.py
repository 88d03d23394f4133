"""Non-blocking pushes for the asyncio driver: a full pipe never blocks the
event loop; frames wait in the link's backlog, in order, until it drains."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Coroutine, cast

import zmq

from ._errors import NotConnected
from ._link import Link

WAIT_SECONDS = 0.02
"""Longest wait for a pipe to become writable before looking again."""


class BacklogPusher:
    """Pushes frames without blocking. Invariant: while a link's backlog is
    non-empty, every new frame for it joins the backlog's end, and one task
    (started by ``spawn``) drains it front first, so the link stays FIFO."""

    def __init__(self, spawn: Callable[[Coroutine[Any, Any, None], str], object], liveness: float) -> None:
        self.spawn = spawn
        self.liveness = liveness

    def push_for(self, link: Link) -> Callable[[bytes], object]:
        """The link's push for frames without bulk."""

        def push(frame: bytes) -> None:
            self.push(link, frame, None)

        return push

    def push(self, link: Link, head: bytes, bulk: object | None) -> None:
        if link.backlog:
            link.backlog.append((head, bulk))
        elif not _try_push(link, head, bulk):
            link.backlog.append((head, bulk))
            self.spawn(self._drain(link), f"draining the backlog to {link.peer!r}")

    async def _drain(self, link: Link) -> None:
        out = link.out
        assert out is not None
        loop = asyncio.get_running_loop()
        writable = asyncio.Event()
        fd = cast(int, out.getsockopt(zmq.FD))
        loop.add_reader(fd, writable.set)
        progress_at = time.monotonic()
        try:
            while link.backlog:
                head, bulk = link.backlog[0]
                if _try_push(link, head, bulk):
                    link.backlog.popleft()
                    progress_at = time.monotonic()
                    continue
                if time.monotonic() - progress_at > self.liveness:
                    raise NotConnected(f"peer {link.peer!r} took no message for {self.liveness:g} s; "
                                       f"{len(link.backlog)} frame(s) wait for it", link.peer)
                writable.clear()
                # The FD is edge-triggered: wait only if EVENTS says not writable.
                if not out.getsockopt(zmq.EVENTS) & zmq.POLLOUT:  # type: ignore[arg-type,operator]  # (an int option)
                    try:
                        await asyncio.wait_for(writable.wait(), WAIT_SECONDS)
                    except asyncio.TimeoutError:
                        pass
        finally:
            loop.remove_reader(fd)


def _try_push(link: Link, head: bytes, bulk: Any | None) -> bool:
    out = link.out
    assert out is not None
    try:
        if bulk is None:
            out.send(head, zmq.NOBLOCK)
        else:
            out.send(head, zmq.NOBLOCK | zmq.SNDMORE)
            out.send(bulk, copy=False)  # the rest of a multipart is never refused
    except zmq.Again:
        return False
    return True
