"""Errors of the actor runtime. Each message says what is wrong and where."""

from __future__ import annotations


class ReelError(Exception):
    """Base of reel's own errors."""


class HandshakeRefused(ReelError):
    """A peer's Hello does not match: other protocol or other schema."""


class LinkGap(ReelError):
    """A sequence number jumped: messages on a link were lost."""


class PeerLost(ReelError):
    """A peer died or fell silent for longer than the liveness bound."""


class ActorStopped(ReelError):
    """Raised inside a waiting call when the run is being stopped, so that a
    long handler unwinds instead of waiting for a reply that will not come."""


class NotConnected(ReelError):
    """A send to a peer that is not (or no longer) connected; ``peer``
    names it when it was connected once and is lost or stuck."""

    def __init__(self, message: str, peer: str = "") -> None:
        super().__init__(message)
        self.peer = peer


def peer_of(exc: BaseException) -> str:
    """The peer a failure is about (``Failed.peer``): a lost or stuck
    one's, or "" for any other failure."""
    return exc.peer if isinstance(exc, NotConnected) else ""


class BindError(ReelError):
    """The inbox cannot be bound where the topology says (a port taken, a
    folder missing, a path too long for a unix socket)."""
