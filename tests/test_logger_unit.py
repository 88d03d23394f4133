"""The logger's replay verdict, driven by messages in this process: the
guest's exit may overtake the digests of the last checkpoints (they come
from other actors), and the verdict must not be given without them."""

from __future__ import annotations

import asyncio
import collections
import hashlib
from pathlib import Path
from typing import Any, Iterator

import pytest

from actors._node import Node
from actors._spec import ActorSpec
from actors.logger import Logger
from actors.logger.actor import EXIT_DIVERGED, EXIT_STUCK
from actors.logger.logfile import FORMAT_VERSION, CheckpointRecord, EndRecord, LogHeader, write_log
from actors.schema import CheckpointDigest, GuestExit

END = EndRecord(icount=900, code=0, state="5" * 32, memory="3" * 32)


def two_checkpoint_log(folder: Path) -> Path:
    """A replay log of two checkpoints, no seal (the ide's digest's first
    byte is kept at each: 0xaa, then 0xbb), and its end."""
    header = LogHeader(format=FORMAT_VERSION, reel_version="test", guest_name="g",
                       guest_sha256=hashlib.sha256(b"guest").hexdigest(), guest_image=b"guest", disks=[],
                       digested=["cpu", "ide", "blkreplay"], digest_every=64, ram_mib=16)
    path = folder / "run.reel"
    write_log(str(path), header, [CheckpointRecord(0, 100, [], 0xAA), CheckpointRecord(1, 200, [], 0xBB), END])
    return path


_made: list[Logger] = []


@pytest.fixture(autouse=True)
def _close_nodes() -> Iterator[None]:
    yield
    while _made:
        _made.pop().node.close()  # (an unclosed zmq context can block its collection)


def logger(log: Path, digests_wait: float = 5.0) -> tuple[Logger, list[tuple[int, str]]]:
    spec = ActorSpec("unit", "logger", "actors.logger:Logger",
                     {"mode": "replay", "path": str(log), "digests_wait": digests_wait, "recent_wait": 0.05},
                     bind="", launcher="", peers=[])
    actor = Logger(spec, Node("logger", []))
    _made.append(actor)
    finished: list[tuple[int, str]] = []
    actor.finish = lambda code=0, reason="", report=None: finished.append((code, reason))  # type: ignore[method-assign]
    actor.send = lambda peer, msg: None  # type: ignore[method-assign]
    actor.node.send = lambda peer, msg: None  # type: ignore[method-assign]
    actor._tasks = set()  # (what AsyncActor's loop sets up)
    actor._waiting = collections.defaultdict(collections.deque)
    asyncio.run(actor._start_replay())  # (what started() spawns on the actor's loop)
    return actor, finished


def run(steps: Any) -> None:
    asyncio.run(asyncio.wait_for(steps(), 10))  # (a verdict that never comes fails the test, not hangs it)


def exit_after_two() -> GuestExit:
    return GuestExit(END.icount, END.code, END.state, END.memory, checkpoints=2)


def test_the_verdict_waits_for_digests_that_come_after_the_guest_exit(tmp_path: Path) -> None:
    actor, finished = logger(two_checkpoint_log(tmp_path))

    async def steps() -> None:
        actor.on_checkpoint_digest(CheckpointDigest(0, "aa" + "0" * 30), "ide")
        verdict = asyncio.create_task(actor.on_guest_exit(exit_after_two(), "cpu"))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        assert finished == []  # checkpoint 1's digest is not in yet: no verdict
        actor.on_checkpoint_digest(CheckpointDigest(1, "bb" + "0" * 30), "ide")
        await asyncio.wait_for(verdict, 1)

    run(steps)
    assert finished == [(0, "replay matched the recording: 2 checkpoints, final cpu state, memory and 0 disk(s)")]


def test_a_wrong_digest_after_the_guest_exit_is_still_a_divergence(tmp_path: Path) -> None:
    """Before, the verdict came with the exit: 'matched 1 checkpoints', and
    checkpoint 1's wrong digest, arriving after, went unseen."""
    actor, finished = logger(two_checkpoint_log(tmp_path))

    async def steps() -> None:
        actor.on_checkpoint_digest(CheckpointDigest(0, "aa" + "0" * 30), "ide")
        verdict = asyncio.create_task(actor.on_guest_exit(exit_after_two(), "cpu"))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        actor.on_checkpoint_digest(CheckpointDigest(1, "cc" + "0" * 30), "ide")
        await asyncio.wait_for(verdict, 1)
        await asyncio.gather(*actor._tasks)  # the divergence report

    run(steps)
    assert len(finished) == 1 and finished[0][0] == EXIT_DIVERGED, finished
    assert "divergence at checkpoint 1 (icount 200): ide's digest is cc" in finished[0][1]


def test_digests_that_never_come_end_the_replay_as_stuck_naming_them(tmp_path: Path) -> None:
    actor, finished = logger(two_checkpoint_log(tmp_path), digests_wait=0.1)

    async def steps() -> None:
        actor.on_checkpoint_digest(CheckpointDigest(0, "aa" + "0" * 30), "ide")
        await asyncio.wait_for(actor.on_guest_exit(exit_after_two(), "cpu"), 1)  # type: ignore[arg-type]

    run(steps)
    assert finished == [(EXIT_STUCK, "replay stuck: the guest exited after checkpoint 1, but the digest of "
                                     "checkpoint 1 from ide did not come within 0.1 s")]


@pytest.mark.parametrize("made", [0, 1])
def test_a_guest_that_exits_early_is_owed_only_the_checkpoints_it_made(tmp_path: Path, made: int) -> None:
    actor, finished = logger(two_checkpoint_log(tmp_path), digests_wait=0.1)

    async def steps() -> None:
        if made:
            actor.on_checkpoint_digest(CheckpointDigest(0, "aa" + "0" * 30), "ide")
        exit = GuestExit(END.icount, END.code, END.state, END.memory, checkpoints=made)
        await asyncio.wait_for(actor.on_guest_exit(exit, "cpu"), 1)  # type: ignore[arg-type]

    run(steps)
    assert finished == [(0, f"replay matched the recording: {made} checkpoints, final cpu state, memory and 0 disk(s)")]
