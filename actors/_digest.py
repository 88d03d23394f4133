"""The running digest of an actor's machine messages."""

from __future__ import annotations

import xxhash


class RunningDigest:
    """xxh3-128 over the head and bulk frames of every digested message this
    node sent or accepted, in the order it did so.

    Heads carry src, dst and seq, so direction and per-link position are part
    of what is hashed: two runs have equal digests only if the same messages
    crossed the same links in the same order. Control messages never enter it.
    """

    __slots__ = ("_hash", "update")

    def __init__(self) -> None:
        self._hash = xxhash.xxh3_128()
        self.update = self._hash.update  # the hot path calls this directly

    def add(self, head: bytes | memoryview, bulk: object | None = None) -> None:
        self.update(head)
        if bulk is not None:
            self.update(bulk)  # type: ignore[arg-type]

    def hexdigest(self) -> str:
        return self._hash.hexdigest()
