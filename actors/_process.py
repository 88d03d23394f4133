"""The entry point of an actor process: ``python -m actors --run ID --name N``.

Reads its ``ActorSpec`` from stdin (msgpack), sets the process up (logging,
core pinning, death signal), imports the implementation, and runs it. The
run id and actor name on the command line only make the process easy to find
in the process table; the spec is what counts.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import importlib
import inspect
import logging
import os
import signal
import sys
import traceback

import msgspec

from ._actor import EXIT_ERROR, EXIT_ORPHANED, Actor, install_signal_handlers
from ._errors import BindError
from ._logging import configure
from ._node import Node
from ._spec import ActorSpec
from ._trace import ENV as TRACE_ENV
from ._trace import install as install_trace

PR_SET_PDEATHSIG = 1

PROFILE_ENV = "REEL_PROFILE_DIR"
"""A developer's tool: set, each actor is profiled into that folder."""


class ImplementationError(Exception):
    """An ``impl`` string that does not name an Actor subclass."""


def load_implementation(impl: str) -> type[Actor]:
    """``"package.module:Class"`` -> the class; errors say which part failed."""
    module_name, sep, attr = impl.partition(":")
    if not sep or not module_name or not attr:
        raise ImplementationError(f"implementation {impl!r} is not of the form 'package.module:Class'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ImplementationError(f"implementation {impl!r}: cannot import module {module_name!r} ({e})") from None
    except (Exception, SystemExit) as e:
        # The module's own code failed as it was imported (or tried to end
        # the process): its fault, said with where it happened, not a traceback.
        raise ImplementationError(f"implementation {impl!r}: importing module {module_name!r} raised "
                                  f"{_where(e)}") from None
    cls = getattr(module, attr, None)
    if cls is None:
        raise ImplementationError(f"implementation {impl!r}: module {module_name!r} has no {attr!r}")
    if not (isinstance(cls, type) and issubclass(cls, Actor)):
        raise ImplementationError(f"implementation {impl!r} is not an Actor subclass")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise ImplementationError(f"implementation {impl!r} is abstract (it does not define {missing}): "
                                  "subclass BlockingActor or AsyncActor")
    return cls


def _where(e: BaseException) -> str:
    """``Type: message (file:line)`` of an exception, at its innermost frame."""
    if isinstance(e, SyntaxError):
        return f"SyntaxError: {e.msg} ({e.filename}:{e.lineno})"
    frames = traceback.extract_tb(e.__traceback__)
    place = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(e).__name__}: {e}{place}"


def _die_with_parent(parent_pid: int) -> None:
    """Linux: have the kernel SIGKILL us when the launcher dies, so that even
    a ``kill -9`` of the launcher leaves no orphan."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the launcher-liveness check still ends us
    if parent_pid and os.getppid() != parent_pid:
        sys.exit(EXIT_ORPHANED)


def _run_profiled(actor: Actor, directory: str, log: logging.Logger) -> int:
    """A developer's tool: run ``actor`` under cProfile and write the
    profile to ``directory``/<actor>.prof (as traces are written: the folder
    is made if need be, and a failure to write is an error in the log, not
    a crash of a run that went well)."""
    import cProfile

    profiler = cProfile.Profile()
    try:
        return profiler.runcall(actor.run)
    finally:
        path = os.path.join(directory, f"{actor.name}.prof")
        try:
            os.makedirs(directory, exist_ok=True)
            profiler.dump_stats(path)
        except OSError as e:
            log.error("cannot write the profile %s: %s", path, e.strerror)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m actors", description=__doc__)
    parser.add_argument("--run", required=True, help="run id (for the process table)")
    parser.add_argument("--name", required=True, help="actor name (for the process table)")
    parser.parse_args(argv)
    try:
        spec = msgspec.msgpack.decode(sys.stdin.buffer.read(), type=ActorSpec)
    except msgspec.MsgspecError as e:
        print(f"actor process: unreadable spec on stdin: {e}", file=sys.stderr)
        return EXIT_ERROR
    _die_with_parent(spec.parent_pid)
    log = configure(spec.name, spec.log_level)
    if spec.cpu is not None:
        os.sched_setaffinity(0, {spec.cpu})
    try:
        cls = load_implementation(spec.impl).serving(spec.params)
        node = Node(spec.name, [(p.name, p.digest) for p in spec.peers] + [("launcher", False)],
                    liveness=spec.liveness, curve=spec.curve, log=log, spin=spec.spin, io_cpu=spec.io_cpu)
        actor = cls(spec, node)
    except (ImplementationError, msgspec.ValidationError) as e:
        log.error("%s", e)
        return EXIT_ERROR
    trace_dir = os.environ.get(TRACE_ENV)
    write_trace = install_trace(node, trace_dir, spec.run_id) if trace_dir else None
    install_signal_handlers()
    # Everything allocated so far lives for the whole run: keep it out of
    # the collector's full passes, which otherwise rescan it on the hot path.
    gc.freeze()
    try:
        profile_dir = os.environ.get(PROFILE_ENV)
        if profile_dir:
            return _run_profiled(actor, profile_dir, log)
        return actor.run()
    except BindError as e:
        log.error("%s", e)
        return EXIT_ERROR
    except Exception:
        logging.getLogger(spec.name).exception("actor crashed")
        return EXIT_ERROR
    finally:
        if write_trace is not None:
            write_trace()
