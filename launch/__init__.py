"""Topologies, the launcher that runs them, and the ``reel`` command line.

The public names load their modules when first asked for (PEP 562), so
that ``reel``'s entry point (``launch._entry``) is running, and can answer
a Ctrl-C, before the heavy imports start."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .launcher import EXIT_OK, EXIT_RUN_FAILED, EXIT_SIGINT, EXIT_SIGTERM, EXIT_USAGE, Launcher, RunResult, launch
    from .topology import ActorConfig, LinkConfig, RunConfig, Topology, TopologyError, load, parse, validate

_HOME = {
    **dict.fromkeys(["EXIT_OK", "EXIT_RUN_FAILED", "EXIT_SIGINT", "EXIT_SIGTERM", "EXIT_USAGE", "Launcher",
                     "RunResult", "launch"], "launcher"),
    **dict.fromkeys(["ActorConfig", "LinkConfig", "RunConfig", "Topology", "TopologyError", "load", "parse",
                     "validate"], "topology"),
}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'launch' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # asked once
    return value
