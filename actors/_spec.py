"""What the launcher tells an actor process about itself, on its stdin.

The spec travels on stdin (not argv) so that the run's CURVE secret never
shows in the process table.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ._faults import RuntimeFault
from ._node import DEFAULT_LIVENESS, CurveKeys


class PeerSpec(msgspec.Struct, array_like=True):
    """One link of the actor: the peer's name and whether the machine
    messages on it enter the digest (False for links whose order is
    non-deterministic by nature, such as a disk backend's completions)."""

    name: str
    digest: bool = True


class ActorSpec(msgspec.Struct, array_like=True):
    run_id: str
    name: str
    impl: str  # "package.module:Class"
    params: dict[str, Any]
    bind: str  # the endpoint to bind the inbox at
    launcher: str  # the launcher's inbox endpoint
    peers: list[PeerSpec]
    liveness: float = DEFAULT_LIVENESS
    cpu: int | None = None  # pin to this core
    log_level: int = 20
    curve: CurveKeys | None = None
    parent_pid: int = 0  # exit at once if the launcher is already gone
    faults: list[RuntimeFault] = []  # this actor's share of the run's fault plan (actors._faults)
    spin: float = 0.0  # seconds a blocking wait stays awake while busy (actors._spin)
    io_cpu: int | None = None  # pin the ZeroMQ I/O thread to this core
