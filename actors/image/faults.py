"""Faults an image actor injects into the requests it serves.

A fault is part of a run's plan (``launch.faults`` parses it from the
command line); the image actor only applies it. An error or a full disk is
decided by what the request is (its number on this disk, its sectors, where
a write ends), never by timing, so a plan injects the same faults wherever
the run is placed. ``reorder`` changes when completions leave, not what
they say: the actor holds them and releases each group in a seeded order
(``Reorder``). A slow disk is just its latency spec (``Image.Params.latency``).
"""

from __future__ import annotations

import errno
import random
from typing import Callable, Literal

import msgspec

from .backends import Result

SECTOR = 512


class DiskFault(msgspec.Struct, forbid_unknown_fields=True):
    """``error``: fail a request with ``status`` (an errno value): the
    ``request``-th this disk serves (counting from 1), or any touching
    sectors ``first_lba`` to ``last_lba``. ``full``: fail with ENOSPC every
    write that ends past ``size`` bytes. ``reorder``: release completions in
    groups of up to ``window``, shuffled by ``seed``."""

    kind: Literal["error", "full", "reorder"]
    spec: str  # as the plan wrote it, for messages
    request: int = 0
    first_lba: int = -1
    last_lba: int = -1
    status: int = errno.EIO
    size: int = 0  # full
    window: int = 0  # reorder
    seed: int = 0  # reorder

    def hits(self, number: int, op: str, offset: int, length: int) -> bool:
        if self.kind == "full":
            return op == "write" and offset + length > self.size
        if self.kind != "error":
            return False
        if self.request:
            return number == self.request
        if op == "flush" or self.first_lba < 0:
            return False
        first, last = offset // SECTOR, (offset + max(length, 1) - 1) // SECTOR
        return first <= self.last_lba and self.first_lba <= last

    def result(self) -> Result:
        return Result(self.status, error=f"injected fault {self.spec}: {errno.errorcode.get(self.status, self.status)}")


def injected(faults: list[DiskFault], number: int, op: str, offset: int, length: int) -> Result | None:
    """The failed result of the first fault that hits this request, if any."""
    for fault in faults:
        if fault.hits(number, op, offset, length):
            return fault.result()
    return None


REORDER_QUIET = 0.002
"""Seconds without a further completion after which a partial group leaves."""


class Reorder:
    """Holds completions and releases each group of ``window`` in an order
    drawn from ``seed``; a partial group leaves once no completion came for
    ``REORDER_QUIET`` (a guest with one request in flight never stalls)."""

    def __init__(self, fault: DiskFault, call_later: Callable[[float, Callable[[], None]], object],
                 note: Callable[[str], None] | None = None) -> None:
        self.spec = fault.spec
        self.note = note
        self.reordered = 0  # groups that left in another order than they came
        self.window = max(fault.window, 1)
        self.rng = random.Random(fault.seed)
        self.call_later = call_later
        self.held: list[Callable[[], None]] = []
        self.timer: object | None = None
        self.groups = 0

    def add(self, release: Callable[[], None]) -> None:
        self.held.append(release)
        if self.timer is not None:
            self.timer.cancel()  # type: ignore[attr-defined]
            self.timer = None
        if len(self.held) >= self.window:
            self.release()
        else:
            self.timer = self.call_later(REORDER_QUIET, self.release)

    def release(self) -> None:
        if self.timer is not None:
            self.timer.cancel()  # type: ignore[attr-defined]
            self.timer = None
        group, self.held = self.held, []
        order = list(range(len(group)))
        self.rng.shuffle(order)
        group = [group[i] for i in order]
        self.groups += 1
        if order != sorted(order):
            self.reordered += 1
            if self.reordered == 1 and self.note is not None:
                self.note(f"injected fault {self.spec}: released a group of {len(order)} completions "
                          f"in the order {order}")
        for send in group:
            send()
