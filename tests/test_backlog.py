"""The asyncio driver's non-blocking pushes: a full pipe queues frames in
order and drains them as the reader catches up, without blocking the loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import zmq

from actors._backlog import BacklogPusher
from actors._link import Link


def test_frames_queued_behind_a_full_pipe_arrive_in_order(tmp_path: Path) -> None:
    ctx = zmq.Context()
    reader = ctx.socket(zmq.PULL)
    reader.setsockopt(zmq.RCVHWM, 1)
    reader.bind(f"ipc://{tmp_path}/r")
    out = ctx.socket(zmq.PUSH)
    out.setsockopt(zmq.SNDHWM, 1)
    out.connect(f"ipc://{tmp_path}/r")
    link = Link("r", out=out)

    async def scenario() -> tuple[list[bytes], int]:
        tasks: list[asyncio.Task[None]] = []
        pusher = BacklogPusher(lambda coro, what: tasks.append(asyncio.get_running_loop().create_task(coro)), 5.0)
        push = pusher.push_for(link)
        for n in range(200):
            push(b"frame %d" % n)  # never blocks, whatever the pipe holds
        queued = len(link.backlog)
        await asyncio.sleep(0.05)
        got = []
        while len(got) < 200:
            try:
                got.append(reader.recv(zmq.NOBLOCK))
            except zmq.Again:
                await asyncio.sleep(0.001)
        await asyncio.gather(*tasks)
        return got, queued

    got, queued = asyncio.run(scenario())
    assert queued > 150  # the pipe took only a few; the rest waited in order
    assert got == [b"frame %d" % n for n in range(200)]
    assert not link.backlog
    out.close(0)
    reader.close(0)
    ctx.term()
