"""``reel``'s entry point: the command line, with a Ctrl-C that comes before
the run's launcher answers signals (its imports take a few tenths of a
second; no actor exists yet) answered as one later is: "reel:
interrupted", exit 130, and no traceback."""

from __future__ import annotations

import signal
import sys

EXIT_SIGINT = 130  # (launch.launcher's, which is not imported yet)


def main() -> int:
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


def _interrupted() -> int:
    print("reel: interrupted", file=sys.stderr)  # (as launch.cli says it)
    return EXIT_SIGINT
