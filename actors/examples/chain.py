"""The bundled example: source -> relay -> sink.

The source sends ``count`` items, every ``bulk_every``-th one with a 64 KiB
payload (a bulk frame), the rest with ``size`` bytes; the relay (asyncio
driver) forwards them; the sink (blocking driver) checks that every item
arrived once, in order, with its exact contents, and finishes the run.
"""

from __future__ import annotations

import msgspec
import xxhash

from .._async import AsyncActor
from .._blocking import BlockingActor
from ..schema import BULK_THRESHOLD, Done, Item


def item_data(n: int, size: int) -> bytes:
    """The contents of item ``n``: depends on ``n`` alone, so the sink can
    recompute what it should have received."""
    pattern = xxhash.xxh3_128_digest(n.to_bytes(8, "little"))
    return (pattern * (size // len(pattern) + 1))[:size]


def _fold(digest: xxhash.xxh3_128, n: int, data: bytes | memoryview) -> None:
    digest.update(n.to_bytes(8, "little"))
    digest.update(data)


class Source(BlockingActor):
    class Params(msgspec.Struct, forbid_unknown_fields=True):
        count: int = 10_000
        size: int = 32
        bulk_every: int = 100  # 0: no bulk items
        to: str = "relay"

    @classmethod
    def peers_named(cls, params: Source.Params) -> dict[str, str]:
        return {"to": params.to}

    def started(self) -> None:
        p = self.params
        digest = xxhash.xxh3_128()
        for n in range(p.count):
            bulk = p.bulk_every and n % p.bulk_every == p.bulk_every - 1
            data = item_data(n, BULK_THRESHOLD if bulk else p.size)
            self.send(p.to, Item(n, data))
            _fold(digest, n, data)
            if n % 500 == 0:
                self.poll()
        self.send(p.to, Done(p.count, digest.hexdigest()))


class Relay(AsyncActor):
    class Params(msgspec.Struct, forbid_unknown_fields=True):
        to: str = "sink"

    @classmethod
    def peers_named(cls, params: Relay.Params) -> dict[str, str]:
        return {"to": params.to}

    def on_item(self, msg: Item, src: str) -> None:
        self.send(self.params.to, msg)

    def on_done(self, msg: Done, src: str) -> None:
        self.send(self.params.to, msg)


class Sink(BlockingActor):
    class Params(msgspec.Struct, forbid_unknown_fields=True):
        size: int = 32
        bulk_every: int = 100

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.expected = 0
        self.bulk_items = 0
        self.digest = xxhash.xxh3_128()
        self.errors: list[str] = []

    def on_item(self, msg: Item, src: str) -> None:
        p = self.params
        if msg.n != self.expected and len(self.errors) < 5:
            self.errors.append(f"item {msg.n} arrived where {self.expected} was due")
        bulk = p.bulk_every and msg.n % p.bulk_every == p.bulk_every - 1
        want = item_data(msg.n, BULK_THRESHOLD if bulk else p.size)
        if bytes(msg.data) != want and len(self.errors) < 5:
            self.errors.append(f"item {msg.n}: {len(msg.data)} bytes differ from the {len(want)} sent")
        self.bulk_items += isinstance(msg.data, memoryview)
        _fold(self.digest, msg.n, msg.data)
        self.expected = msg.n + 1

    def on_done(self, msg: Done, src: str) -> None:
        if msg.count != self.expected:
            self.errors.append(f"source sent {msg.count} items, {self.expected} arrived")
        if msg.digest != self.digest.hexdigest():
            self.errors.append(f"digest of items sent {msg.digest} != received {self.digest.hexdigest()}")
        report = {"items": self.expected, "bulk_items": self.bulk_items, "digest": self.digest.hexdigest()}
        if self.errors:
            self.finish(1, "; ".join(self.errors), report)
        else:
            self.finish(0, f"{self.expected} items ({self.bulk_items} as bulk frames) arrived in order, intact",
                        report)
