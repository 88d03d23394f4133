"""One named link between this node and a peer: both directions' state."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Callable

import zmq


@dataclass(slots=True, eq=False)
class Link:
    """What this node knows about the link to ``peer``.

    Invariants: ``sent_seq`` is the number of the last machine message
    pushed to ``out``, and the messages in ``queue`` will carry
    ``sent_seq + 1``, ``sent_seq + 2``, ... when flushed; ``recv_seq`` is the
    number of the last machine message taken from the peer, so the next
    machine frame must start at ``recv_seq + 1``.
    """

    peer: str
    digest: bool = True  # machine frames on this link enter the digest
    frame_prefix: bytes = b""  # the constant start of the frames we send on it
    out: zmq.Socket | None = None  # PUSH connected to the peer's inbox
    endpoint: str = ""
    # How a frame leaves: ``out.send`` itself for the blocking driver; the
    # asyncio driver installs a non-blocking push that queues on a full pipe.
    push: Callable[[bytes], object] | None = None
    backlog: collections.deque[tuple[bytes, object | None]] = field(default_factory=collections.deque)

    sent_seq: int = 0
    recv_seq: int = 0
    queue: list[bytes] = field(default_factory=list)  # encoded, not yet framed
    control_out: int = 0  # control frames pushed (machine ones: sent_seq)
    control_in: int = 0  # control frames taken (machine ones: recv_seq)
    duplicates: int = 0
    dropped: set[int] = field(default_factory=set)  # numbers claimed by wholly malformed frames, not taken

    hello: bool = False  # the peer's Hello arrived and matched
    lost: bool = False  # declared dead: no waiting for it, no sending to it

    # liveness bookkeeping, updated by Node.tick (not per message)
    heard_mark: int = 0  # ``recv_seq + control_in`` at the last tick
    heard_at: float = 0.0  # when it last changed, as seen by tick
    said_mark: int = 0  # ``sent_seq + control_out`` at the last tick
    said_at: float = 0.0

    # end of stream
    eos_sent: bool = False
    eos_acked: bool = False
    eos_received: bool = False

    @property
    def closed(self) -> bool:
        """Both directions finished: ours acknowledged, theirs received."""
        return self.lost or (self.eos_acked and self.eos_received)
