"""What a run's processes leave behind outside their process groups.

An actor's own process group is killed when the actor ends (launch._spawn),
but a process that left the group (``setsid``, a daemon's double fork)
escapes that, and once its parent dies it would be re-parented to init and
live on. So the ``reel`` command makes itself a child subreaper: such
orphans are re-parented to it instead, and once the command is done,
every child it still has is one of them (the launcher has reaped every
actor by then) and is killed.
"""

from __future__ import annotations

import ctypes
import os
import signal

_PR_SET_CHILD_SUBREAPER = 36
ROUNDS = 10
"""Kill-and-reap passes at most: a killed orphan's own children come to us next."""


def become_subreaper() -> bool:
    """Make orphaned descendants this process's children (Linux); False
    where the kernel does not offer it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def children(pid: int | None = None) -> list[tuple[int, str]]:
    """(pid, command name) of every process whose parent is ``pid`` (default: this one)."""
    parent = os.getpid() if pid is None else pid
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        command, _, rest = stat.partition(b" (")[2].rpartition(b") ")
        fields = rest.split()
        if len(fields) > 1 and int(fields[1]) == parent:
            found.append((int(name), command.decode(errors="replace")))
    return found


def kill_leftovers() -> list[str]:
    """SIGKILL and reap every child this process still has; returns them
    as "pid (command)". Call it only when no child of its own should be
    left: when the command's work is done."""
    killed: list[str] = []
    for _ in range(ROUNDS):
        left = children()
        if not left:
            break
        for pid, command in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            killed.append(f"{pid} ({command})")
        for pid, _ in left:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass  # reaped already, by whoever started it
    return killed
