"""Scratch folders that a killed reel does not leave behind for long.

A reel killed with SIGKILL (the OOM killer, a CI job's timeout) runs no
clean-up: its temporary folders (working copies of disks, a run's sockets)
stay. So each folder reel makes holds an ``OWNER`` file that its maker keeps
locked (flock) for as long as it lives; the kernel drops the lock when the
process dies, however it dies. The next reel sweeps the folders whose lock
it can take. A lock and not a pid: pids are reused, and differ between the
pid namespaces of containers that share one /tmp. The owner file names the
maker's host, and only this host's folders are judged: on a file system
shared between hosts, locks may be each host's own.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import socket
import stat
import tempfile
from typing import Iterator

PREFIX = "reel-"
OWNER = ".reel-owner"

_HOST = socket.gethostname().encode()
_held: dict[str, int] = {}  # folder -> the descriptor that holds its owner lock


def make(kind: str, parent: str | None = None) -> str:
    """A fresh folder ``reel-<kind>-...`` in ``parent`` (default: the
    temporary folder), locked as this process's until ``remove``."""
    folder = tempfile.mkdtemp(prefix=f"{PREFIX}{kind}-", dir=parent)
    unnamed = os.path.join(folder, OWNER + ".new")
    fd = os.open(unnamed, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        os.remove(unnamed)  # no locks here: without an owner file the folder is never swept
        if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return folder
    os.write(fd, _HOST)
    os.rename(unnamed, os.path.join(folder, OWNER))  # named only once locked: a sweep never sees it free
    _held[folder] = fd
    return folder


def remove(folder: str) -> None:
    """Delete a folder ``make`` made, and let go of it."""
    shutil.rmtree(folder, ignore_errors=True)
    fd = _held.pop(folder, None)
    if fd is not None:
        os.close(fd)


@contextlib.contextmanager
def scratch(kind: str, parent: str | None = None) -> Iterator[str]:
    """``make``, then ``remove`` on the way out."""
    folder = make(kind, parent)
    try:
        yield folder
    finally:
        remove(folder)


def sweep(parent: str | None = None) -> list[str]:
    """Delete the scratch folders in ``parent`` (default: the temporary
    folder) that are this user's and whose maker is gone; returns them."""
    root = parent or tempfile.gettempdir()
    try:
        names = os.listdir(root)
    except OSError:
        return []
    swept = []
    for name in names:
        folder = os.path.join(root, name)
        if name.startswith(PREFIX) and folder not in _held and _abandoned(folder):
            shutil.rmtree(folder, ignore_errors=True)
            swept.append(folder)
    return swept


def _abandoned(folder: str) -> bool:
    try:
        info = os.lstat(folder)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return False
        fd = os.open(os.path.join(folder, OWNER), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False  # not ours, or made without an owner file
    try:
        if os.read(fd, len(_HOST) + 1) != _HOST:
            return False  # made on another host: where a shared folder's locks are each host's own, not ours to judge
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # its maker still holds it (or locks do not work here)
    finally:
        os.close(fd)
    return True
