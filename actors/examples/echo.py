"""An echo server (answers Ping, counts Flood) and an idle actor."""

from __future__ import annotations

import msgspec
import zmq

from .._actor import NoParams
from .._blocking import BlockingActor
from ..schema import Flood, FloodDone, Ping, Pong, RawPhase


class Echo(BlockingActor):
    """Answers each Ping with a Pong; answers the last Flood with FloodDone.

    For the transport benchmark it also serves raw phases: on RawPhase it
    leaves the runtime and runs the same exchange on a plain pyzmq PAIR socket
    with plain msgspec, so that runtime and raw are measured in the same
    processes, on the same cores, back to back.
    """

    class Params(msgspec.Struct, forbid_unknown_fields=True):
        raw_endpoint: str = ""  # the bench client's raw PAIR socket, if any

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.flooded = 0
        self._raw: zmq.Socket | None = None

    def on_ping(self, msg: Ping, src: str) -> None:
        self.send(src, Pong(msg.n, msg.data))

    def on_flood(self, msg: Flood, src: str) -> None:
        self.flooded += 1
        if msg.n == 0:
            self.send(src, FloodDone(self.flooded))
            self.flooded = 0

    def on_raw_phase(self, msg: RawPhase, src: str) -> None:
        from .transport_bench import RawMessage, raw_serve

        if self._raw is None:
            self._raw = self.node.ctx.socket(zmq.PAIR)
            self._raw.setsockopt(zmq.LINGER, 0)
            self._raw.connect(self.params.raw_endpoint)
        raw_serve(self._raw, msg.mode, msg.count, RawMessage, self.spec.spin)

    def stopping(self) -> None:
        if self._raw is not None:
            self._raw.close()


class Idle(BlockingActor):
    """Does nothing but stay alive: for supervision tests and memory figures."""

    Params = NoParams
