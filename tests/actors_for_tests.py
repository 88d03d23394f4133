"""Actor implementations that only tests use. They run in real actor
processes, which import this module by its path on PYTHONPATH."""

from __future__ import annotations

import os
import signal

import msgspec

from actors import BlockingActor, schema
from actors.schema import Ping, Pong, StatsReply, StatsRequest


class _NewerKind(msgspec.Struct, tag=199, array_like=True):
    """The message kind that "another build" added to its schema."""

    value: int


class Skewed(BlockingActor):
    """An actor from another build: its schema has one more message kind, so
    its schema hash differs from everyone else's. Constructing it switches
    its own process to that build's hash (only its process: actors share no
    memory)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        schema.SCHEMA_HASH = schema.schema_hash(schema.MESSAGE_TYPES + (_NewerKind,))
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


class Pinger(BlockingActor):
    """Waits until the echo server has counted ``garbage`` malformed frames
    (asking it with StatsRequest), then makes ``count`` round trips and
    finishes with what it saw."""

    class Params(msgspec.Struct, forbid_unknown_fields=True):
        count: int = 100
        garbage: int = 0
        server: str = "echo"

    def started(self) -> None:
        p = self.params
        stats = self._server_stats()
        while sum(stats.malformed.values()) < p.garbage:
            self.poll()
            stats = self._server_stats()
        for n in range(p.count):
            pong = self.call(p.server, Ping(n, n.to_bytes(4, "little")), Pong)
            if pong.n != n or bytes(pong.data) != n.to_bytes(4, "little"):
                self.finish(1, f"pong {pong.n} answered ping {n}")
                return
        stats = self._server_stats()
        self.finish(0, f"{p.count} round trips after {sum(stats.malformed.values())} malformed frames",
                    {"pongs": p.count, "malformed": stats.malformed, "unhandled": stats.unhandled})

    def _server_stats(self) -> schema.ActorStats:
        self._token = getattr(self, "_token", 0) + 1
        return self.call(self.params.server, StatsRequest(self._token), StatsReply).stats


class Crasher(BlockingActor):
    """Raises from its start hook: the launcher must report the error."""

    def started(self) -> None:
        raise RuntimeError("deliberate failure in started()")


class Quitter(BlockingActor):
    """Exits the process on its own, without a word, mid-run."""

    class Params(msgspec.Struct, forbid_unknown_fields=True):
        code: int = 3

    def started(self) -> None:
        os._exit(self.params.code)


class SelfKiller(BlockingActor):
    """Sends itself SIGKILL once started."""

    def started(self) -> None:
        os.kill(os.getpid(), signal.SIGKILL)
