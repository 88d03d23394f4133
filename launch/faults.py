"""Fault plans: the ``--fault SPEC`` grammar and where each fault goes.

Grammar (one fault per ``--fault``)::

    disk<I>:error:request=<N>        fail the N-th request disk I serves (from 1) with EIO
    disk<I>:error:lba=<A>[-<B>]      fail every request touching sectors A..B of disk I

Faults the guest can observe (disk errors) reach it as recorded events, so
a replay sees them again without injecting anything; the log's header lists
the plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from actors.image import DiskFault

_DISK = re.compile(r"^disk(\d+):error:(request|lba)=(\d+)(?:-(\d+))?$")


class FaultError(ValueError):
    """A fault spec that cannot be used; the message says why."""


@dataclass(frozen=True)
class PlannedFault:
    disk: int
    fault: DiskFault


def parse(spec: str, disks: int) -> PlannedFault:
    m = _DISK.match(spec.strip())
    if m is None:
        raise FaultError(f"fault {spec!r}: expected disk<I>:error:request=<N> or disk<I>:error:lba=<A>[-<B>]")
    disk, what, first, last = int(m[1]), m[2], int(m[3]), m[4]
    if disk >= disks:
        raise FaultError(f"fault {spec!r}: the run has {disks} disk(s), numbered from 0")
    if what == "request":
        if last is not None or first < 1:
            raise FaultError(f"fault {spec!r}: request=<N> takes one request number, counting from 1")
        return PlannedFault(disk, DiskFault("error", spec, request=first))
    end = int(last) if last is not None else first
    if end < first:
        raise FaultError(f"fault {spec!r}: the sector range {first}-{end} runs backwards")
    return PlannedFault(disk, DiskFault("error", spec, first_lba=first, last_lba=end))


def plan(specs: list[str], disks: int) -> list[PlannedFault]:
    return [parse(spec, disks) for spec in specs]


def for_disk(faults: list[PlannedFault], disk: int) -> list[DiskFault]:
    return [f.fault for f in faults if f.disk == disk]
