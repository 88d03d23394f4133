"""Where a disk's bytes live: a raw image file, or memory.

Every request is checked against the disk's size before it runs; an I/O
error becomes a failed result, never an exception out of the backend.
"""

from __future__ import annotations

import errno
import fcntl
import os
from typing import Callable, NamedTuple, Protocol


class Result(NamedTuple):
    status: int  # 0, or an errno value
    data: bytes = b""
    error: str = ""


class Backend(Protocol):
    size: int

    def read(self, offset: int, length: int) -> Result: ...

    def write(self, offset: int, data: bytes | memoryview) -> Result: ...

    def flush(self) -> Result: ...

    def close(self) -> None: ...


def check(size: int, op: str, offset: int, length: int, data_length: int) -> Result | None:
    """None when the request is well-formed, else the failed Result saying why."""
    if op not in ("read", "write", "flush"):
        return Result(errno.EINVAL, error=f"unknown operation {op!r}")
    if op == "flush":
        return None
    if offset < 0 or length < 0 or offset + length > size:
        return Result(errno.EINVAL, error=f"{op} of {length} bytes at {offset} is outside the disk ({size} bytes)")
    if op == "write" and data_length != length:
        return Result(errno.EINVAL, error=f"write of {length} bytes carries {data_length}")
    return None


class RawFile:
    """A raw image file, read and written in place with pread/pwrite."""

    def __init__(self, path: str, writable: bool = True) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDWR if writable else os.O_RDONLY)
        try:
            # As QEMU does: two machines writing one image would corrupt it.
            fcntl.flock(self.fd, (fcntl.LOCK_EX if writable else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise ValueError(f"{path}: in use by another run (another process holds a lock on it)") from None
        except OSError as e:
            if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                os.close(self.fd)
                raise
            # A file system without locks (some NFS, FUSE): the image is used unlocked, as QEMU does.
        self.size = os.fstat(self.fd).st_size

    def read(self, offset: int, length: int) -> Result:
        try:
            data = os.pread(self.fd, length, offset)
        except OSError as e:
            return Result(e.errno or errno.EIO, error=f"{self.path}: read at {offset}: {e.strerror}")
        if len(data) != length:
            return Result(errno.EIO, error=f"{self.path}: short read at {offset}: {len(data)} of {length} bytes")
        return Result(0, data)

    def write(self, offset: int, data: bytes | memoryview) -> Result:
        try:
            written = os.pwrite(self.fd, data, offset)
        except OSError as e:
            return Result(e.errno or errno.EIO, error=f"{self.path}: write at {offset}: {e.strerror}")
        if written != len(data):
            return Result(errno.EIO, error=f"{self.path}: short write at {offset}: {written} of {len(data)} bytes")
        return Result(0)

    def flush(self) -> Result:
        try:
            os.fsync(self.fd)
        except OSError as e:
            return Result(e.errno or errno.EIO, error=f"{self.path}: flush: {e.strerror}")
        return Result(0)

    def close(self) -> None:
        os.close(self.fd)


class Memory:
    """A disk in RAM: for tests, and for runs that need no file."""

    def __init__(self, size: int, content: bytes = b"") -> None:
        self.size = size
        self.data = bytearray(size)
        self.data[:len(content)] = content[:size]

    def read(self, offset: int, length: int) -> Result:
        return Result(0, bytes(self.data[offset:offset + length]))

    def write(self, offset: int, data: bytes | memoryview) -> Result:
        self.data[offset:offset + len(data)] = data
        return Result(0)

    def flush(self) -> Result:
        return Result(0)

    def close(self) -> None:
        pass


def content_digest(backend: Backend, chunk: int = 1 << 20, between: Callable[[], None] | None = None) -> str:
    """xxh3-128 of a disk's whole content, read a chunk at a time;
    ``between`` is called after each chunk (a blocking actor serves its
    inbox there, so that a large disk read from the host's disk does not
    silence it past the liveness bound)."""
    import xxhash

    h = xxhash.xxh3_128()
    for offset in range(0, backend.size, chunk):
        result = backend.read(offset, min(chunk, backend.size - offset))
        if result.status:
            raise OSError(result.status, result.error)
        h.update(result.data)
        if between is not None:
            between()
    return h.hexdigest()


def file_digest(path: str, chunk: int = 1 << 20) -> tuple[int, str]:
    """(size, xxh3-128) of a file's content: a disk's identity."""
    import xxhash

    h = xxhash.xxh3_128()
    size = 0
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()
