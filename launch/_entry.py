"""``reel``'s entry point: the command line, with a Ctrl-C that comes before
the run's launcher answers signals (its imports take a few tenths of a
second; no actor exists yet) answered as one later is: "reel:
interrupted", exit 130, and no traceback."""

from __future__ import annotations

import os
import signal
import sys

EXIT_SIGINT = 130  # (launch.launcher's, which is not imported yet)


def main() -> int:
    _standard_streams_open()
    # While the command line's modules load, a Ctrl-C is noted, not raised:
    # raised inside an import, it can be swallowed by importlib ("Exception
    # ignored in ... _get_module_lock") and the run go on regardless.
    # (One ignored by whoever started us, as under nohup, stays ignored.)
    noted: list[int] = []
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, lambda signum, frame: noted.append(signum))
    try:
        from .cli import main as cli_main
    finally:
        if previous is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, previous)
    if noted:
        return _interrupted()
    try:
        return cli_main()
    except KeyboardInterrupt:  # before a launcher took over the signal, or after it gave it back
        return _interrupted()


def _standard_streams_open() -> None:
    """Give a closed standard stream (``reel run hello >&-``) /dev/null
    instead, as a closed pipe's output is dropped. Left closed, its number
    is the next file opened (a disk image, the log) and so reaches the
    actor processes as their stdout, and Python has no sys.stdout to write
    the console to."""
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
            if null != fd:  # (the lowest free number: fd itself when those below it are open)
                os.dup2(null, fd)
                os.close(null)
            os.set_inheritable(fd, True)  # the actor processes' too
            if getattr(sys, name) is None:
                setattr(sys, name, open(fd, mode, closefd=False))


def _interrupted() -> int:
    print("reel: interrupted", file=sys.stderr)  # (as launch.cli says it)
    return EXIT_SIGINT
