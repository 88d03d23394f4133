"""Disks for a run: how they are named on the command line, checked, created."""

from __future__ import annotations

import errno
import fcntl
import os
import re
import secrets
from pathlib import Path

import msgspec

SECTOR = 512
MAX_DISKS = 4
MAX_DISK_BYTES = (1 << 48) * 512  # LBA48's sectors

_SIZE = re.compile(r"^(\d+)([KMGT]i?B?|B?)$", re.IGNORECASE)
_UNIT = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class DiskError(ValueError):
    """A disk that cannot be used; the message says which and why."""


class Disk(msgspec.Struct):
    """A disk of a run: a raw image file, or ``size`` bytes of memory."""

    backend: str  # "raw" | "memory"
    path: str = ""
    size: int = 0

    @property
    def sectors(self) -> int:
        return self.size // SECTOR

    @property
    def label(self) -> str:
        return self.path if self.backend == "raw" else f"memory:{self.size}"


def parse_size(text: str) -> int:
    """``8M``, ``512K``, ``1G``, ``4096`` (bytes); binary units."""
    m = _SIZE.match(text.strip())
    if not m:
        raise DiskError(f"{text!r} is not a size (like 8M, 512K, 1G or a number of bytes)")
    return int(m.group(1)) * _UNIT[m.group(2)[:1].upper()]


def parse(spec: str, writable: bool = True) -> Disk:
    """``PATH`` (a raw image file) or ``memory:SIZE``; checked, readable and,
    unless ``writable`` is False (a base a recording or replay only copies),
    writable."""
    if spec.startswith("memory:"):
        try:
            size = parse_size(spec[len("memory:"):])
        except DiskError as e:
            raise DiskError(f"disk {spec}: {e}") from None
        host = _host_memory()
        if size > host:
            raise DiskError(f"disk {spec}: {size} bytes, more than this host's memory ({host} bytes)")
        disk = Disk("memory", size=size)
    else:
        path = Path(spec)
        try:
            size = path.stat().st_size
        except OSError as e:
            raise DiskError(f"disk {spec}: {e.strerror}") from None
        if not path.is_file():
            raise DiskError(f"disk {spec}: not a regular file")
        _check_opens(spec, path, writable)
        disk = Disk("raw", str(path.resolve()), size)
    if disk.size == 0 or disk.size % SECTOR:
        raise DiskError(f"disk {spec}: {disk.size} bytes is not a positive multiple of {SECTOR}")
    return disk


def _check_opens(spec: str, path: Path, writable: bool) -> None:
    """The image opens as a run will open it (for writing too, unless
    ``writable`` is False), or an error that says why not: the user's
    rights, a read-only mount, an immutable file (the rights alone said
    'not readable and writable' of a file root may read)."""
    try:
        os.close(os.open(path, os.O_RDWR if writable else os.O_RDONLY))
    except OSError as e:
        if not writable:
            raise DiskError(f"disk {spec}: cannot be read: {e.strerror}") from None
        hint = (" (record and replay only read their bases: they write copies)"
                if e.errno in (errno.EROFS, errno.EPERM, errno.EACCES, errno.ETXTBSY) else "")
        raise DiskError(f"disk {spec}: cannot be opened for writing: {e.strerror}{hint}") from None


def _host_memory() -> int:
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def free(disks: list[Disk]) -> list[Disk]:
    """``disks``, once no other run holds an image of theirs (its disk actor
    holds the image's lock while it runs): said here, before this run
    starts, rather than by the disk actor that finds the lock."""
    from actors.image import RawFile  # here: the image package is the actors'

    for disk in disks:
        if disk.backend == "raw":
            try:
                RawFile(disk.path).close()
            except ValueError as e:
                raise DiskError(f"disk {e}") from None
            except OSError as e:
                raise DiskError(f"disk {disk.path}: {e.strerror}") from None
    return disks


def fit_in_memory(disks: list[Disk]) -> list[Disk]:
    """``disks``, once those held in memory fit, together, in this host's
    memory (each disk actor would otherwise end in a MemoryError)."""
    total = sum(d.size for d in disks)
    host = _host_memory()
    if total > host:
        raise DiskError(f"the memory disks need {total} bytes together, more than this host's memory "
                        f"({host} bytes)")
    return disks


def distinct(disks: list[Disk]) -> list[Disk]:
    """``disks``, once none of their image files is attached twice: two
    drives writing one file would overwrite each other's data."""
    seen: dict[tuple[int, int], int] = {}
    for index, disk in enumerate(disks):
        if disk.backend != "raw":
            continue
        stat = os.stat(disk.path)
        first = seen.setdefault((stat.st_dev, stat.st_ino), index)
        if first != index:
            raise DiskError(f"disk {disk.path}: attached twice (disks {first} and {index}); "
                            "each drive needs an image of its own")
    return disks


def check_replaceable(path: str, target: Path) -> None:
    """An existing file --force may replace (an image, a log): a regular
    file no run holds a lock on (image actors lock their disks, a recording
    its log)."""
    if not target.is_file():
        raise DiskError(f"{path}: exists and is not a regular file; not replaced")
    try:
        with open(target, "rb") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise DiskError(f"{path}: in use by a run (it holds a lock on it); not replaced") from None
    except OSError:
        pass  # no locks on this file system: nothing more to learn


def make(path: str, size_text: str, force: bool = False) -> Disk:
    """Create a raw image of the given size (sparse: it takes no space until written)."""
    if not path:
        raise DiskError("the image's path is empty")  # (it would resolve to the current folder)
    size = parse_size(size_text)
    if size == 0 or size % SECTOR:
        raise DiskError(f"size {size_text}: {size} bytes is not a positive multiple of {SECTOR}")
    if size > MAX_DISK_BYTES:
        raise DiskError(f"size {size_text}: more than an LBA48 disk holds ({MAX_DISK_BYTES} bytes)")
    try:
        target = Path(path).resolve()  # a link's target is what gets replaced
        exists = target.exists()
    except OSError as e:  # (a name too long for the file system, say)
        raise DiskError(f"{path}: {e.strerror}") from None
    if exists:
        check_replaceable(path, target)  # (a folder, a device: --force would not help, so it is not offered)
        if not force:
            raise DiskError(f"{path}: already exists (use --force to replace it)")
    # Made aside and renamed into place: a size the file system refuses
    # leaves no empty file behind, and an image being replaced intact.
    temporary = target.parent / f".{target.name}.{secrets.token_hex(4)}.part"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as to any file
    except OSError as e:
        raise DiskError(f"{path}: {e.strerror}") from None
    renamed = False
    try:
        with os.fdopen(fd, "wb") as f:
            f.truncate(size)
        os.replace(temporary, target)
        renamed = True
    except OSError as e:
        raise DiskError(f"{path}: {e.strerror}") from None
    finally:
        if not renamed:
            os.unlink(temporary)
    return Disk("raw", str(target), size)
