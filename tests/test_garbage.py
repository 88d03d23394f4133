"""Garbage sent into an actor's inbox from outside: counted by kind,
dropped, and the actor keeps serving."""

from __future__ import annotations

import logging
import threading

import msgspec
import zmq

from launch import ActorConfig, Launcher, LinkConfig, Topology

# Frames that name a real peer ("pinger") as their sender are dropped before
# they touch that link's sequence numbers; a forged frame that passed every
# check would need the run's private ipc folder (or its CURVE keys on tcp).
GARBAGE: list[tuple[str, list[bytes]]] = [
    ("undecodable", [b"\xc1 not msgpack at all"]),
    ("undecodable", [b"\xc1" + bytes(range(256))]),
    ("bad-envelope", [bytes(range(256))]),  # an int followed by junk
    ("bad-envelope", [msgspec.msgpack.encode({"src": "x"})]),
    ("unknown-kind", [msgspec.msgpack.encode(["mallory", "echo", 1, [[99, 1]], 0])]),
    ("bad-fields", [msgspec.msgpack.encode(["mallory", "echo", 1, [[110, "not an int", b""]], 0])]),
    ("unknown-sender", [msgspec.msgpack.encode(["mallory", "echo", 1, [[110, 1, b""]], 0])]),
    ("wrong-destination", [msgspec.msgpack.encode(["pinger", "elsewhere", 1, [[110, 1, b""]], 0])]),
    ("truncated", [msgspec.msgpack.encode(["pinger", "echo", 1, [[110, 1, b""]], 1])]),
    ("bad-sequence", [msgspec.msgpack.encode(["pinger", "echo", 0, [[110, 1, b""]], 0])]),
]


def test_garbage_is_counted_by_kind_and_the_actor_keeps_serving() -> None:
    topology = Topology(
        actor=[ActorConfig("echo", "actors.examples.echo:Echo"),
               ActorConfig("pinger", "tests.actors_for_tests:Pinger", {"count": 200, "garbage": len(GARBAGE)})],
        link=[LinkConfig(("pinger", "echo"))],
    )
    with Launcher(topology, log_level=logging.CRITICAL, forward_stderr=False) as launcher:
        assert launcher.start()
        sender = threading.Thread(target=inject, args=(launcher.endpoints["echo"],))
        sender.start()
        result = launcher.wait(timeout=30)
        sender.join()
    assert result.code == 0, result.reason
    assert result.report["pongs"] == 200
    expected: dict[str, int] = {}
    for kind, _ in GARBAGE:
        expected[kind] = expected.get(kind, 0) + 1
    assert result.stats["echo"].malformed == expected
    assert result.stats["echo"].gaps == 0


def inject(endpoint: str) -> None:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUSH)
    sock.connect(endpoint)
    for _, frames in GARBAGE:
        sock.send_multipart(frames)
    sock.close(linger=2000)
    ctx.term()
