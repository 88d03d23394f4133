"""Topologies, the launcher that runs them, and the ``reel`` command line."""

from .launcher import EXIT_OK, EXIT_RUN_FAILED, EXIT_SIGINT, EXIT_SIGTERM, EXIT_USAGE, Launcher, RunResult, launch
from .topology import ActorConfig, LinkConfig, RunConfig, Topology, TopologyError, load, parse, validate

__all__ = [
    "EXIT_OK",
    "EXIT_RUN_FAILED",
    "EXIT_SIGINT",
    "EXIT_SIGTERM",
    "EXIT_USAGE",
    "ActorConfig",
    "Launcher",
    "LinkConfig",
    "RunConfig",
    "RunResult",
    "Topology",
    "TopologyError",
    "launch",
    "load",
    "parse",
    "validate",
]
