"""Topologies, the launcher that runs them, and the ``reel`` command line.

The public names load their modules when first asked for (PEP 562), so
that ``reel``'s entry point (``launch._entry``) is running, and can answer
a Ctrl-C, before the heavy imports start."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .launcher import EXIT_OK as EXIT_OK
    from .launcher import EXIT_RUN_FAILED as EXIT_RUN_FAILED
    from .launcher import EXIT_SIGINT as EXIT_SIGINT
    from .launcher import EXIT_SIGTERM as EXIT_SIGTERM
    from .launcher import EXIT_USAGE as EXIT_USAGE
    from .launcher import Launcher as Launcher
    from .launcher import RunResult as RunResult
    from .launcher import launch as launch
    from .topology import ActorConfig as ActorConfig
    from .topology import LinkConfig as LinkConfig
    from .topology import RunConfig as RunConfig
    from .topology import Topology as Topology
    from .topology import TopologyError as TopologyError
    from .topology import load as load
    from .topology import parse as parse
    from .topology import validate as validate

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

if not TYPE_CHECKING:  # (to a type checker, the names are the imports above)

    def __getattr__(name: str) -> Any:
        if name not in __all__:
            raise AttributeError(f"module 'launch' has no attribute {name!r}")
        launcher = importlib.import_module(".launcher", __name__)  # (which imports .topology)
        home = launcher if hasattr(launcher, name) else importlib.import_module(".topology", __name__)
        value = getattr(home, name)
        globals()[name] = value  # asked once
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
