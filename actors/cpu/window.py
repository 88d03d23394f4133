"""A device window whose device is another actor: accesses become messages.

Reads wait for the value; writes are posted, except those that may start
DMA from guest memory (``sync_offsets``), which wait until the device has
acted. While waiting, the cpu actor serves the device's DMA and interrupt
messages: that is the synchronous window of the determinism contract.
"""

from __future__ import annotations

from typing import Callable, Protocol, TypeVar

import msgspec

from ..schema import MmioDone, MmioRead, MmioValue, MmioWrite

T = TypeVar("T", bound=msgspec.Struct)


class Call(Protocol):
    """``BlockingActor.call``: send to ``peer`` and wait for its reply of ``reply_type``."""

    def __call__(self, peer: str, msg: msgspec.Struct, reply_type: type[T]) -> T: ...


class RemoteWindow:
    """Forwards accesses to [BASE, BASE + SIZE) to actor ``peer``."""

    def __init__(self, base: int, size: int, peer: str,
                 call: Call, send: Callable[[str, msgspec.Struct], None],
                 sync_offsets: frozenset[int]) -> None:
        self.BASE, self.SIZE = base, size
        self.peer = peer
        self.call = call
        self.send = send
        self.sync_offsets = sync_offsets

    def read(self, offset: int, size: int) -> int:
        return self.call(self.peer, MmioRead(offset, size), MmioValue).value

    def write(self, offset: int, size: int, value: int) -> None:
        if offset in self.sync_offsets:
            self.call(self.peer, MmioWrite(offset, size, value, True), MmioDone)
        else:
            self.send(self.peer, MmioWrite(offset, size, value))
