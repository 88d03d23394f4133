"""The transport benchmark's client, and the raw pyzmq+msgspec baseline.

The client and the echo server run as two actors. Each measurement
alternates short blocks through the runtime with the same blocks on a plain
PAIR socket with plain msgspec, in the same two processes: a blocking round
trip (``call``), one-way throughput of 64-byte messages, and of 64 KiB bulk
frames. Each runtime block is paired with the raw block next to it and the
median of the pairs' ratios is reported: on a noisy machine (cross-core round
trips here drift between 140 and 210 us from one second to the next) only
measurements taken moments apart compare.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import msgspec
import zmq

from .._blocking import BlockingActor
from .._spin import wait_awake
from ..schema import BULK_THRESHOLD, Flood, FloodDone, Ping, Pong, RawPhase

SMALL = 64


class RawMessage(msgspec.Struct, array_like=True):
    """The baseline's message: the same fields as Ping, no envelope."""

    n: int
    data: bytes


_raw_encode = msgspec.msgpack.Encoder().encode


def raw_serve(sock: zmq.Socket, mode: str, count: int, msg_type: type[RawMessage], awake: float = 0.0) -> None:
    """The echo side of a raw phase; "rt-awake" waits awake up to ``awake``
    seconds each time, as the runtime does with the run's spin."""
    decode = msgspec.msgpack.Decoder(msg_type).decode
    if mode == "rt":
        for _ in range(count):
            sock.send(_raw_encode(decode(sock.recv())))
    elif mode == "rt-awake":
        for _ in range(count):
            wait_awake(sock.get, time.perf_counter() + awake)
            sock.send(_raw_encode(decode(sock.recv())))
    elif mode == "flood":
        for _ in range(count):
            decode(sock.recv())
        sock.send(b"done")
    elif mode == "bulk":
        for _ in range(count):
            sock.recv(copy=False)
        sock.send(b"done")
    else:
        raise ValueError(f"unknown raw phase mode {mode!r}")


class BenchClient(BlockingActor):
    class Params(msgspec.Struct, forbid_unknown_fields=True):
        raw_endpoint: str
        server: str = "echo"
        rounds: int = 5
        blocks: int = 10  # runtime/raw block pairs per measurement and round
        rt_count: int = 200  # per block
        small_count: int = 5000
        bulk_count: int = 300

    @classmethod
    def peers_named(cls, params: BenchClient.Params) -> dict[str, str]:
        return {"server": params.server}

    def started(self) -> None:
        p = self.params
        self.raw = self.node.ctx.socket(zmq.PAIR)
        self.raw.setsockopt(zmq.LINGER, 0)
        self.raw.setsockopt(zmq.SNDHWM, 1000)
        self.raw.bind(p.raw_endpoint)
        self.raw_decode = msgspec.msgpack.Decoder(RawMessage).decode
        rounds: list[dict[str, float]] = []
        for r in range(p.rounds):
            rounds.append(self._round())
            self.log.info("round %d/%d: %s", r + 1, p.rounds,
                          ", ".join(f"{k} {v:.3g}" for k, v in rounds[-1].items()))
        self.raw.close()
        self.finish(0, f"{p.rounds} rounds", summarize(rounds))

    def _round(self) -> dict[str, float]:
        p = self.params
        out: dict[str, float] = {}
        out["rt_us"], out["raw_rt_us"], out["rt_ratio"] = self._paired(
            lambda: self._runtime_rt(p.rt_count) * 1e6, lambda: self._raw_rt(p.rt_count) * 1e6)
        # For scale, not a target: raw pyzmq waiting awake as the runtime
        # does (actors._spin, for the run's spin), paired with the runtime
        # in the same way, so the runtime's own cost shows apart from what
        # its way of waiting saves.
        _, out["raw_awake_rt_us"], out["rt_awake_ratio"] = self._paired(
            lambda: self._runtime_rt(p.rt_count) * 1e6, lambda: self._raw_rt(p.rt_count, awake=True) * 1e6)
        out["small_msgs_per_s"], out["raw_small_msgs_per_s"], out["small_throughput_ratio"] = self._paired(
            lambda: self._runtime_flood(p.small_count, SMALL), lambda: self._raw_flood(p.small_count, SMALL, "flood"))
        out["bulk_msgs_per_s"], out["raw_bulk_msgs_per_s"], out["bulk_throughput_ratio"] = self._paired(
            lambda: self._runtime_flood(p.bulk_count, BULK_THRESHOLD),
            lambda: self._raw_flood(p.bulk_count, BULK_THRESHOLD, "bulk"))
        return out

    def _paired(self, runtime: Callable[[], float], raw: Callable[[], float]) -> tuple[float, float, float]:
        """Medians of runtime blocks, raw blocks, and their pairwise ratios;
        the order within a pair alternates so neither side always goes first."""
        pairs = []
        for i in range(self.params.blocks):
            if i % 2:
                b = raw()
                a = runtime()
            else:
                a = runtime()
                b = raw()
            pairs.append((a, b))
            self.poll()
        med = statistics.median
        return med(a for a, _ in pairs), med(b for _, b in pairs), med(a / b for a, b in pairs)

    # --- through the runtime -----------------------------------------------------

    def _runtime_rt(self, count: int) -> float:
        server, data = self.params.server, b"x" * SMALL
        self.call(server, Ping(-1, data), Pong)  # warm
        t0 = time.perf_counter()
        for i in range(count):
            self.call(server, Ping(i, data), Pong)
        return (time.perf_counter() - t0) / count

    def _runtime_flood(self, count: int, size: int) -> float:
        server, data = self.params.server, b"x" * size
        t0 = time.perf_counter()
        for i in range(count - 1, -1, -1):
            self.send(server, Flood(i, data))
        done = self.wait_for(server, FloodDone)  # flushes what is still queued
        elapsed = time.perf_counter() - t0
        if done.received != count:
            raise RuntimeError(f"echo counted {done.received} of {count} Flood messages")
        return count / elapsed

    # --- raw pyzmq + msgspec, the same processes -----------------------------------

    def _raw_rt(self, count: int, awake: bool = False) -> float:
        self.send(self.params.server, RawPhase("rt-awake" if awake else "rt", count + 1, SMALL))
        self.flush()
        sock, decode, data = self.raw, self.raw_decode, b"x" * SMALL
        sock.send(_raw_encode(RawMessage(-1, data)))
        decode(sock.recv())  # warm
        events, clock, spin = sock.get, time.perf_counter, self.spec.spin
        t0 = time.perf_counter()
        for i in range(count):
            sock.send(_raw_encode(RawMessage(i, data)))
            if awake:
                wait_awake(events, clock() + spin)
            decode(sock.recv())
        return (time.perf_counter() - t0) / count

    def _raw_flood(self, count: int, size: int, mode: str) -> float:
        self.send(self.params.server, RawPhase(mode, count, size))
        self.flush()
        sock, data = self.raw, b"x" * size
        t0 = time.perf_counter()
        if mode == "bulk":
            for _ in range(count):
                sock.send(data, copy=False)
        else:
            for i in range(count):
                sock.send(_raw_encode(RawMessage(i, data)))
        sock.recv()
        return count / (time.perf_counter() - t0)


def summarize(rounds: list[dict[str, float]]) -> dict[str, Any]:
    """The median over rounds of each figure and each ratio."""
    return {**{k: statistics.median(r[k] for r in rounds) for k in rounds[0]}, "rounds": len(rounds)}
