"""Faults an image actor injects into the requests it serves.

A fault is part of a run's plan (``launch.faults`` parses it from the
command line); the image actor only applies it. An error or a full disk is
decided by what the request is (its number on this disk, its sectors, where
a write ends), never by timing, so a plan injects the same faults wherever
the run is placed. A slow disk is just its latency spec
(``Image.Params.latency``); reordering completions is blkreplay's
(``actors.blkreplay.reorder``): one drive has one command at a time.
"""

from __future__ import annotations

import errno
from typing import Literal

import msgspec

from .backends import Result

SECTOR = 512


class DiskFault(msgspec.Struct, forbid_unknown_fields=True):
    """``error``: fail a request with ``status`` (an errno value): the
    ``request``-th this disk serves (counting from 1), or any touching
    sectors ``first_lba`` to ``last_lba``. ``full``: fail with ENOSPC every
    write that ends past ``size`` bytes."""

    kind: Literal["error", "full"]
    spec: str  # as the plan wrote it, for messages
    request: int = 0
    first_lba: int = -1
    last_lba: int = -1
    status: int = errno.EIO
    size: int = 0  # full

    def hits(self, number: int, op: str, offset: int, length: int) -> bool:
        if self.kind == "full":
            return op == "write" and offset + length > self.size
        if self.request:
            return number == self.request
        if op == "flush" or self.first_lba < 0:
            return False
        first, last = offset // SECTOR, (offset + max(length, 1) - 1) // SECTOR
        return first <= self.last_lba and self.first_lba <= last

    def result(self, number: int) -> Result:
        """The failed result it gives request ``number`` of this disk (said
        in the error: blkreplay and the ide number requests otherwise)."""
        return Result(self.status, error=f"injected fault {self.spec} on this disk's request {number}: "
                                         f"{errno.errorcode.get(self.status, self.status)}")


def striking(faults: list[DiskFault], number: int, op: str, offset: int, length: int) -> list[DiskFault]:
    """The faults that hit this request (the first one decides its
    result; each of them struck it)."""
    return [fault for fault in faults if fault.hits(number, op, offset, length)]
