"""One named link between this node and a peer: both directions' state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import zmq


@dataclass(slots=True, eq=False)
class Link:
    """What this node knows about the link to ``peer``.

    Invariants: ``sent_seq`` is the number of the last message pushed to
    ``out``, and the messages in ``queue`` will carry ``sent_seq + 1``,
    ``sent_seq + 2``, ... when flushed; ``recv_seq`` is the number of the last
    message taken from the peer, so the next frame must start at
    ``recv_seq + 1``. Numbers count every message, control included.
    """

    peer: str
    digest: bool = True  # machine messages on this link enter the digest
    out: zmq.Socket | None = None  # PUSH connected to the peer's inbox
    endpoint: str = ""

    sent_seq: int = 0
    recv_seq: int = 0
    queue: list[bytes] = field(default_factory=list)  # encoded, not yet framed
    duplicates: int = 0
    out_tag: bytes = b""  # "me>peer": what the digest folds in before a sent message
    frame_prefix: bytes = b""  # the constant start of frames on this link
    in_tag: bytes = b""  # "peer>me": the same for a received message

    hello: bool = False  # the peer's Hello arrived and matched
    lost: bool = False  # declared dead: no waiting for it, no sending to it

    # liveness bookkeeping, updated by Node.tick (not per message)
    heard_mark: int = 0  # ``recv_seq`` at the last tick
    heard_at: float = 0.0  # when ``recv_seq`` last changed, as seen by tick
    said_mark: int = 0  # ``sent_seq`` at the last tick
    said_at: float = 0.0

    # end of stream
    eos_sent: bool = False
    eos_acked: bool = False
    eos_received: bool = False

    # How a frame leaves: ``out.send`` itself for the blocking driver; the
    # asyncio driver installs a non-blocking push that queues on a full pipe.
    push: Callable[[bytes], object] | None = None
    backlog: list[tuple[bytes, object | None]] = field(default_factory=list)

    @property
    def next_seq(self) -> int:
        """The number the next message sent on this link will carry."""
        return self.sent_seq + len(self.queue) + 1

    @property
    def closed(self) -> bool:
        """Both directions finished: ours acknowledged, theirs received."""
        return self.lost or (self.eos_acked and self.eos_received)
