"""blkreplay alone, driven by messages (its sends recorded, no sockets used)."""

from __future__ import annotations

import errno

import pytest

from actors._node import Node
from actors._spec import ActorSpec
from actors.blkreplay import BlkReplay
from actors.schema import (
    BlockCompletion,
    BlockRequest,
    Checkpoint,
    Drain,
    Drained,
    Expect,
    ReplayBackendFailed,
    Settle,
)


@pytest.fixture
def replaying() -> tuple[BlkReplay, list[tuple[str, object]]]:
    spec = ActorSpec("unit", "blkreplay", "actors.blkreplay:BlkReplay", {"mode": "replay", "disks": ["disk0"]},
                     bind="", launcher="", peers=[])
    actor = BlkReplay(spec, Node("blkreplay", []))
    sent: list[tuple[str, object]] = []
    actor.send = lambda peer, msg: sent.append((peer, msg))  # type: ignore[method-assign]
    yield actor, sent
    actor.node.close()


def test_a_failure_now_of_a_request_that_succeeded_when_recording_stops_the_replay(replaying) -> None:
    """No data to give the guest: the logger is told which request, at
    which checkpoint, and nothing is delivered to the ide."""
    actor, sent = replaying
    actor.on_expect(Expect(0, [(0, 0)]), "logger")  # checkpoint 0: request 0, succeeded when recording
    actor.on_block_request(BlockRequest(7, "read", 0, 512), "ide")
    assert sent == [("disk0", BlockRequest(0, "read", 0, 512, b""))]
    actor.on_block_completion(BlockCompletion(0, errno.EIO, b"", "Input/output error"), "disk0")
    actor.on_checkpoint(Checkpoint(0, 1000), "ide")
    peer, msg = sent[-1]
    assert peer == "logger" and isinstance(msg, ReplayBackendFailed) and msg.seq == 0
    assert msg.what == "request 0 failed now (Input/output error) but succeeded when recording"
    assert not any(peer == "ide" for peer, _ in sent)


def test_the_control_a_success_is_delivered_and_settled(replaying) -> None:
    actor, sent = replaying
    actor.on_expect(Expect(0, [(0, 0)]), "logger")
    actor.on_block_request(BlockRequest(7, "read", 0, 512), "ide")
    actor.on_block_completion(BlockCompletion(0, 0, b"x" * 512), "disk0")
    actor.on_checkpoint(Checkpoint(0, 1000), "ide")
    assert sent[1:] == [("ide", BlockCompletion(7, 0, b"x" * 512)), ("ide", Settle(0, 1000, [(0, 0)]))]


def test_a_drain_passes_on_only_behind_every_request_held_here(replaying) -> None:
    """The guest's last write waits for its fate (and would for an overlap):
    the Drain goes to the disk only after it, and its answer goes back to
    the ide only once the disk has answered."""
    actor, sent = replaying
    actor.on_block_request(BlockRequest(7, "write", 0, 512, b"w" * 512), "ide")
    actor.on_drain(Drain(), "ide")
    assert sent == []  # the write's fate is not known yet: nothing may go
    actor.on_expect(Expect(-1, [(0, 0)]), "logger")  # the log ends: the write was left undelivered, and succeeded
    assert sent == [("disk0", BlockRequest(0, "write", 0, 512, b"w" * 512)), ("disk0", Drain())]
    actor.on_drained(Drained(), "disk0")
    assert sent[-1] == ("ide", Drained())
    actor.on_drained(Drained(), "disk0")  # (answered once only)
    assert len(sent) == 3


@pytest.mark.parametrize("status", [1 << 40, -5])
def test_a_disk_answering_with_no_errno_value_fails_the_run_naming_it(replaying, status: int) -> None:
    """Such a status can be neither logged (a log holds errno values) nor
    given to the guest; before, 2**40 crashed blkreplay on os.strerror."""
    actor, sent = replaying
    failures: list[str] = []
    actor.fail = failures.append  # type: ignore[method-assign]
    actor.on_expect(Expect(0, [(0, 0)]), "logger")
    actor.on_block_request(BlockRequest(7, "read", 0, 512), "ide")
    actor.on_block_completion(BlockCompletion(0, status, b"", "odd"), "disk0")
    assert failures == [f"disk0 answered request 0 with status {status}, which is neither 0 nor an errno value"]
    actor.on_checkpoint(Checkpoint(0, 1000), "ide")
    assert not any(peer == "ide" for peer, _ in sent)


def test_two_drive_slots_on_one_image_are_refused_by_name() -> None:
    """Overlapping requests are ordered per slot: two slots on one image
    could have reordered writes to the same bytes, recording and replaying."""
    import msgspec

    with pytest.raises(msgspec.ValidationError, match="disks name 'disk0' more than once"):
        msgspec.convert({"mode": "record", "disks": ["disk0", "disk1", "disk0"]}, BlkReplay.Params)
    assert msgspec.convert({"mode": "record", "disks": ["disk0", "disk1"]}, BlkReplay.Params).disks == ["disk0", "disk1"]
