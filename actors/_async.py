"""The asyncio driver, on uvloop: for actors that juggle many requests.

The inbox is the same sync ZeroMQ socket as in the blocking driver; this
driver waits for it through the event loop (the socket's edge-triggered FD
plus its EVENTS flags) and drains it without blocking. Sends never block the
loop: a full pipe queues the frames on the link (``Link.backlog``) and a task
flushes them in order as the pipe drains.

Synchronous handlers run in receive order. A coroutine handler is started as
a task at its turn, so its code up to the first ``await`` runs in receive
order too; after that it runs concurrently with later messages. ``ask``
awaits a peer's reply from such a handler.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any, Callable, Coroutine, TypeVar, cast

import msgspec
import uvloop
import zmq

from ._actor import Actor
from ._errors import ActorStopped, HandshakeRefused, LinkGap, peer_of
from ._backlog import BacklogPusher

T = TypeVar("T", bound=msgspec.Struct)

BATCH = 256
"""Messages handled before the loop lets other tasks run."""
TICK_SECONDS = 0.02


class AsyncActor(Actor):
    """An actor whose handlers run on a uvloop event loop."""

    def run(self) -> int:
        return uvloop.run(self._main())

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str = "task") -> asyncio.Task[Any]:
        """Run ``coro`` as a task whose failure fails the actor."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._task_done(t, what))
        return task

    async def ask(self, peer: str, msg: msgspec.Struct, reply_type: type[T]) -> T:
        """Send ``msg`` to ``peer`` and await its next ``reply_type`` message
        (replies of one type from one peer come back in request order)."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting[(peer, reply_type)].append(future)
        self.node.send(peer, msg)
        return await future

    # --- the loop --------------------------------------------------------------

    async def _main(self) -> int:
        loop = asyncio.get_running_loop()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._waiting: dict[tuple[str, type], collections.deque[asyncio.Future[Any]]] = collections.defaultdict(
            collections.deque
        )
        self._waiter: asyncio.Future[None] | None = None
        self._serving = False
        pusher = BacklogPusher(self.spawn, self.node.liveness)
        self.node.push_factory = pusher.push_for
        self.node.push_bulk = pusher.push
        # Outside the serve loop (in a task), a send is flushed at once: each
        # is a frame of its own, a flush point fixed by the task's own steps.
        self.node.on_first_queued = self._flush_outside_serve
        self._introduce()
        inbox_fd = cast(int, self.node.inbox.getsockopt(zmq.FD))
        loop.add_reader(inbox_fd, self._inbox_readable_now)
        ticker = loop.create_task(self._ticker())
        try:
            while self._stop_reason is None:
                await self._serve()
            deadline = self._begin_stop()
            await self._serve_until(self._peers_drained, deadline)
            self._say_goodbye()
            await self._serve_until(self._launcher_drained, time.monotonic() + 0.3)
        finally:
            ticker.cancel()
            loop.remove_reader(inbox_fd)
            for task in list(self._tasks):
                task.cancel()
            self.node.close()
        return self.exit_code

    async def _serve(self) -> None:
        """Handle waiting messages, or wait for some. Yields to other tasks
        only between frames, after at least BATCH messages, so that the flush
        points stay where the node's batching rule puts them."""
        node = self.node
        handled = 0
        self._serving = True  # sends from handlers wait for the frame's end
        while True:
            try:
                item = node.next()
                if item is None:  # a frame boundary
                    if handled >= BATCH:
                        node.flush()
                        self._serving = False
                        await asyncio.sleep(0)
                        return
                    if node.receive(zmq.NOBLOCK) or node.inbox.getsockopt(zmq.EVENTS) & zmq.POLLIN:  # type: ignore[arg-type,operator]
                        continue
                    node.flush()
                    self._serving = False
                    await self._inbox_readable()
                    return
            except (LinkGap, HandshakeRefused) as e:
                self.fail(str(e))
                continue
            self._handle(*item)
            handled += 1
            if self._stop_reason is not None:
                node.flush()
                self._serving = False
                return

    async def _inbox_readable(self) -> None:
        """Wait until the inbox's FD fires (edge-triggered: EVENTS was checked
        just before) or TICK_SECONDS pass. A bare future and a timer handle:
        ``asyncio.wait_for`` would create a task per wait."""
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(TICK_SECONDS, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def _inbox_readable_now(self) -> None:
        """The inbox's FD fired: wake ``_inbox_readable``'s wait, if one is on."""
        if self._waiter is not None:
            _wake(self._waiter)

    def _flush_outside_serve(self) -> None:
        if not self._serving:
            self.node.flush()

    async def _serve_until(self, done: Callable[[], bool], deadline: float) -> None:
        while not done() and time.monotonic() < deadline:
            await self._serve()



    async def _ticker(self) -> None:
        while True:
            self._housekeeping()
            await asyncio.sleep(TICK_SECONDS)

    def _handle(self, msg: msgspec.Struct, src: str) -> None:
        waiting = self._waiting.get((src, type(msg)))
        if waiting:
            future = waiting.popleft()
            if not future.done():
                future.set_result(msg)
            return
        handler = self._handler_for(msg, src)
        if handler is None:
            return
        try:
            result = handler(msg, src)
        except ActorStopped:
            return
        except Exception as exc:
            self._handler_crashed(msg, src, exc)
            return
        if result is not None:
            task = self.spawn(result, f"{type(msg).__name__} from {src!r}")
            task.origin = (msg, src)  # type: ignore[attr-defined]

    def _task_done(self, task: asyncio.Task[Any], what: str) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None or isinstance(exc, ActorStopped):
            return
        origin: tuple[msgspec.Struct, str] | None = getattr(task, "origin", None)
        if origin is not None:
            msg, src = origin
            self._handler_crashed(msg, src, exc)
        else:
            self.fail(f"{type(exc).__name__}: {exc} (in {what})", peer=peer_of(exc))


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
