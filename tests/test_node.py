"""The wire rules of one node, with two real nodes on real ipc sockets in
this process: batching, sequence numbers, duplicates, gaps, bulk frames,
control frames, end of stream, digests."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import msgspec
import pytest
import zmq

from actors import LinkGap, Node
from actors.schema import BULK_THRESHOLD, Done, EndOfStream, Heartbeat, Item


class Pair:
    """Nodes a and b linked both ways; a's outgoing frames are recorded."""

    def __init__(self, folder: Path) -> None:
        self.a = Node("a", [("b", True)])
        self.b = Node("b", [("a", True)])
        self.a.bind(f"ipc://{folder}/a")
        self.b.bind(f"ipc://{folder}/b")
        for node in (self.a, self.b):
            node.inbox.setsockopt(zmq.RCVTIMEO, 2000)
        self.a.connect("b", self.b.endpoint)
        self.b.connect("a", self.a.endpoint)
        self.frames: list[bytes] = []
        link = self.a.links["b"]
        send = link.push
        link.push = lambda frame: (self.frames.append(frame), send(frame))  # type: ignore[misc]
        assert self.b.receive() and self.b.next() is None  # a's Hello, handled by b itself
        assert self.a.receive() and self.a.next() is None
        self.frames.clear()

    def deliver(self) -> list[msgspec.Struct]:
        """Flush a, take one frame at b, return the messages it held."""
        self.a.flush()
        assert self.b.receive()
        out = []
        while (item := self.b.next()) is not None:
            out.append(item[0])
        return out

    def close(self) -> None:
        for node in (self.a, self.b):
            for link in node.links.values():
                link.lost = True
            node.close()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    p = Pair(tmp_path)
    yield p
    p.close()


def test_messages_sent_in_a_burst_share_one_frame(pair: Pair) -> None:
    for n in range(3):
        pair.a.send("b", Item(n, b"x"))
    assert pair.deliver() == [Item(0, b"x"), Item(1, b"x"), Item(2, b"x")]
    assert len(pair.frames) == 1
    assert pair.b.links["a"].recv_seq == 3


def test_a_repeated_frame_is_dropped_and_counted(pair: Pair) -> None:
    pair.a.send("b", Item(0, b"x"))
    pair.a.send("b", Item(1, b"y"))
    assert len(pair.deliver()) == 2
    digest = pair.b.digest.hexdigest()
    pair.a.links["b"].out.send(pair.frames[0])  # the same frame again
    assert pair.b.receive() and pair.b.next() is None
    assert pair.b.links["a"].duplicates == 2
    assert pair.b.digest.hexdigest() == digest  # a duplicate changes nothing


def test_a_gap_is_an_error_naming_the_link_and_numbers(pair: Pair) -> None:
    pair.a.send("b", Item(0, b"x"))
    assert len(pair.deliver()) == 1
    skipped = pair.a.links["b"].frame_prefix + b"\x05\x91" + msgspec.msgpack.encode(Item(5, b"x")) + b"\x00"
    pair.a.links["b"].out.send(skipped)
    with pytest.raises(LinkGap, match="messages lost on the link from 'a': expected seq 2, got 5"):
        pair.b.receive()


def test_bulk_payload_travels_as_its_own_frame_without_a_copy(pair: Pair) -> None:
    payload = bytes(range(256)) * (BULK_THRESHOLD // 256)
    pair.a.send("b", Item(1, b"small"))
    pair.a.send("b", Item(2, payload))
    first, = pair.deliver()  # the queued item left first, alone
    assert first == Item(1, b"small")
    assert pair.b.receive()
    item, _ = pair.b.next()
    assert isinstance(item.data, memoryview) and item.data == payload


@pytest.mark.parametrize("head, kind", [
    (b"\x91" + msgspec.msgpack.encode([250, 1]) + b"\x01", "unknown-kind"),  # its one message is of no kind
    (b"\x91" + msgspec.msgpack.encode(Item(1, b"")) + b"\x02", "bulk-mismatch"),  # announces two payloads
    (None, "undecodable"),  # not msgpack at all
])
def test_a_refused_bulk_head_takes_its_payload_with_it(pair: Pair, head: bytes | None, kind: str) -> None:
    """The payload after a refused head is dropped with it: left in the
    socket, it was taken for a frame of its own and counted again, as
    another kind of defect."""
    link = pair.a.links["b"]
    frame = b"\xc1 not msgpack" if head is None else link.frame_prefix + b"\xce\x00\x00\x00\x01" + head
    link.out.send(frame, zmq.SNDMORE)
    link.out.send(b"y" * BULK_THRESHOLD)
    assert pair.b.receive() and pair.b.next() is None
    assert pair.b.malformed == {kind: 1}
    pair.a.send("b", Item(1, b"z"))
    assert pair.deliver() == [Item(1, b"z")]  # the peer's own frame of that number is still taken
    assert pair.b.malformed == {kind: 1}


def test_control_messages_never_join_or_move_a_machine_frame(pair: Pair) -> None:
    pair.a.send("b", Item(0, b"x"))
    pair.a.send("b", Heartbeat())  # leaves at once, ahead of the queued item
    pair.a.send("b", Item(1, b"y"))
    assert pair.b.receive() and pair.b.next() is None  # the heartbeat, handled by b
    assert pair.deliver() == [Item(0, b"x"), Item(1, b"y")]
    assert pair.b.links["a"].recv_seq == 2  # control frames are not numbered


def test_digests_follow_content_and_order(tmp_path: Path) -> None:
    def digest_of(items: list[Item], folder: Path) -> tuple[str, str]:
        folder.mkdir()
        p = Pair(folder)
        for item in items:
            p.a.send("b", item)
            p.deliver()
        out = p.a.digest.hexdigest(), p.b.digest.hexdigest()
        p.close()
        return out

    one = digest_of([Item(0, b"x"), Item(1, b"y")], tmp_path / "1")
    assert one == digest_of([Item(0, b"x"), Item(1, b"y")], tmp_path / "2")
    assert one != digest_of([Item(1, b"y"), Item(0, b"x")], tmp_path / "3")
    assert one != digest_of([Item(0, b"x"), Item(1, b"z")], tmp_path / "4")


def test_end_of_stream_is_acknowledged(pair: Pair) -> None:
    pair.a.send("b", Done(1, ""))
    pair.a.end_streams()
    assert pair.b.receive() and pair.b.next() == (Done(1, ""), "a")
    assert pair.b.receive() and pair.b.next() is None  # EndOfStream: b answers it
    assert pair.b.links["a"].eos_received
    assert pair.a.receive() and pair.a.next() is None  # the acknowledgement
    assert pair.a.links["b"].eos_acked


def test_end_of_stream_that_claims_more_than_arrived_is_a_gap(pair: Pair) -> None:
    pair.a.send("b", EndOfStream(7))
    with pytest.raises(LinkGap, match="ended its stream after message 7, but 0 arrived"):
        assert pair.b.receive()
        pair.b.next()


def test_a_silent_peer_is_declared_lost(tmp_path: Path) -> None:
    a = Node("a", [("b", True)], liveness=0.2)
    a.bind(f"ipc://{tmp_path}/a")
    a.connect("b", f"ipc://{tmp_path}/nobody")
    deadline = time.monotonic() + 2
    lost = []
    while not lost and time.monotonic() < deadline:
        lost = a.tick()
        time.sleep(0.01)
    assert [link.peer for link in lost] == ["b"]
    a.mark_lost("b")
    a.close()


def test_a_digest_request_is_answered_with_the_running_digest(pair: Pair) -> None:
    from actors.schema import DigestReply, DigestRequest

    pair.a.send("b", Item(0, b"x"))
    assert len(pair.deliver()) == 1
    pair.a.send("b", DigestRequest(7))
    assert pair.b.receive() and pair.b.next() is None  # b answers by itself
    assert pair.a.receive()
    reply, src = pair.a.next()
    assert src == "b" and reply == DigestReply(7, pair.b.digest.hexdigest(), 1, 0)


def test_a_message_whose_values_break_the_schema_is_malformed(pair: Pair) -> None:
    """Constraints in the schema (an IDE channel is 0 or 1) are checked as
    a message is decoded: a peer's PioFill for channel 7 is counted and
    dropped, the message beside it taken; no handler ever sees it."""
    from actors.schema import PioFill

    pair.a.send("b", PioFill(7, 1, b"x"))
    pair.a.send("b", Item(1, b"y"))
    assert pair.deliver() == [Item(1, b"y")]
    assert pair.b.malformed == {"bad-fields": 1}


def test_a_strangers_long_name_is_cut_short_in_the_log(pair: Pair, caplog: pytest.LogCaptureFixture) -> None:
    frame = msgspec.msgpack.encode(["m" * 100_000, "b", 1, [[110, 1, b""]], 0])
    pair.a.links["b"].out.send(frame)
    with caplog.at_level("WARNING"):
        assert pair.b.receive() and pair.b.next() is None
    assert pair.b.malformed == {"unknown-sender": 1}
    [line] = [record.getMessage() for record in caplog.records]
    assert "(100000 characters)" in line and len(line) < 400, line


def test_a_wholly_malformed_frame_takes_no_numbers_from_the_peer_it_names(pair: Pair) -> None:
    """Anything that reaches an inbox can name a peer. A frame of nothing
    but bad messages claiming a's next number must not make a's own frame
    of that number a duplicate (before, it was dropped as one: silent loss,
    and the run hung); and when a itself sent the bad frame, its next frame
    skips those numbers without being taken for a gap."""
    forged = msgspec.msgpack.encode(["a", "b", 1, [[110, "not an int", b""]], 0])
    pair.a.links["b"].out.send(forged)
    assert pair.b.receive() and pair.b.next() is None
    pair.a.send("b", Item(1, b"x"))
    assert pair.deliver() == [Item(1, b"x")]  # a's seq 1, taken
    own_bad = msgspec.msgpack.encode(["a", "b", 2, [[110, "not an int", b""], [110, "nor this", b""]], 0])
    pair.a.links["b"].out.send(own_bad)
    assert pair.b.receive() and pair.b.next() is None
    pair.a.links["b"].sent_seq += 2  # as if a had sent those two itself
    pair.a.send("b", Item(4, b"y"))
    assert pair.deliver() == [Item(4, b"y")]
    assert pair.b.malformed == {"bad-fields": 3} and pair.b.gaps == 0 and pair.b.links["a"].duplicates == 0
