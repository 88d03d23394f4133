"""Where a disk's bytes live: a raw image file, or memory.

Every request is checked against the disk's size before it runs; an I/O
error becomes a failed result, never an exception out of the backend.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
from typing import Callable, Iterator, NamedTuple, Protocol, TypeVar

from ..schema import BULK_THRESHOLD


class Result(NamedTuple):
    status: int  # 0, or an errno value
    data: bytes | memoryview = b""  # (a view of a raw file's mapping: see RawFile.read)
    error: str = ""


class Backend(Protocol):
    size: int

    def read(self, offset: int, length: int) -> Result: ...

    def write(self, offset: int, data: bytes | memoryview) -> Result: ...

    def flush(self) -> Result: ...

    def close(self) -> None: ...

    def extents(self) -> Iterator[tuple[int, int, bool]]:
        """(offset, length, holds_data) runs that cover the disk in order;
        a run without data reads as zeros."""
        ...


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


MAPPED_MIN = BULK_THRESHOLD
"""A raw file's reads of this many bytes or more are views of its mapping,
not copies (see RawFile.read): those travel in bulk frames of their own,
sent without a copy; smaller data is copied into its message anyway."""

_MADV_POPULATE_READ = getattr(mmap, "MADV_POPULATE_READ", 22)  # Linux 5.14


class RawFile:
    """A raw image file, written in place with pwrite and read with pread,
    or, for large reads, through a read-only shared mapping of the file.

    A large read returns a view of the mapping: the bytes go from the page
    cache to the socket as the frame is sent, without the copy pread makes
    (measured here: 1 MiB read and sent to another process, acknowledged,
    in 288-389 us against 396-574 us with pread). The view shows the file
    as it is when the frame leaves, so a write to the same bytes before
    then would show in it. None can come: whoever asked for a read acts on
    it only once its whole frame has arrived, and a drive's next request
    waits for that (one command per drive, a PIO command's chunks in turn);
    only a read a reset abandoned may carry a later write's bytes, and
    nothing takes its data then.
    """

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
        self.map: mmap.mmap | None = None  # made at the first large read (a file opened for its lock needs none)
        self.unmappable = False

    def read(self, offset: int, length: int) -> Result:
        if length >= MAPPED_MIN and not self.unmappable:
            mapped = self._mapped(offset, length)
            if mapped is not None:
                return Result(0, mapped)
        try:
            data = os.pread(self.fd, length, offset)
        except OSError as e:
            return Result(e.errno or errno.EIO, error=f"{self.path}: read at {offset}: {e.strerror}")
        if len(data) != length:
            return Result(errno.EIO, error=f"{self.path}: short read at {offset}: {len(data)} of {length} bytes")
        return Result(0, data)

    def _mapped(self, offset: int, length: int) -> memoryview | None:
        """The bytes at ``offset`` as a view of the mapping, their pages read
        in and mapped first, so that an I/O error is an errno here (pread's
        answer then says what failed) and not a SIGBUS as the frame leaves.
        None when they cannot be (a file that cannot be mapped; an
        unreadable page; a kernel before MADV_POPULATE_READ; a file cut
        short under us)."""
        if self.map is None:
            try:
                self.map = mmap.mmap(self.fd, self.size, prot=mmap.PROT_READ)
            except (OSError, ValueError):
                self.unmappable = True  # such a file is read with pread
                return None
        start = offset - offset % mmap.PAGESIZE
        try:
            self.map.madvise(_MADV_POPULATE_READ, start, offset + length - start)
        except OSError:
            return None
        return memoryview(self.map)[offset:offset + length]

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
        if self.map is not None:
            try:
                self.map.close()
            except BufferError:
                pass  # a read's frame on its way still shows it: the mapping goes with the frame
        os.close(self.fd)

    def extents(self) -> Iterator[tuple[int, int, bool]]:
        return extents(self.fd, self.size)


class Memory:
    """A disk in RAM: for tests, and for runs that need no file.

    Its bytes are an anonymous mapping: zero pages that the host gives only
    as they are written. (A bytearray of the size wrote every page at once:
    an 8 GiB disk took 18 s and 8 GiB before its first request, and one
    loaded from a base held three copies of it on the way.)"""

    def __init__(self, size: int, content: bytes = b"") -> None:
        if size <= 0:
            raise ValueError(f"a memory disk needs a positive size, not {size}")
        self.size = size
        self.data = mmap.mmap(-1, size)
        self.data[:min(len(content), size)] = content[:size]

    @classmethod
    def loaded(cls, path: str, size: int = 0,
               progress: Callable[[int], None] | None = None) -> tuple[Memory, str]:
        """A disk of ``size`` bytes (0: the file's) starting with the file
        ``path``'s content, and that content's digest (as ``file_digest``
        gives it), read in one pass. Holes are not read: they are the zero
        pages the disk starts with. ``progress`` hears how many bytes are
        done after each chunk."""
        disk = cls(size or os.stat(path).st_size)

        def put(offset: int, block: bytes) -> None:
            if offset < disk.size:
                disk.data[offset:min(offset + len(block), disk.size)] = block[:disk.size - offset]

        return disk, file_digest(path, on_data=put, progress=progress)[1]

    def read(self, offset: int, length: int) -> Result:
        return Result(0, bytes(self.data[offset:offset + length]))

    def write(self, offset: int, data: bytes | memoryview) -> Result:
        self.data[offset:offset + len(data)] = data
        return Result(0)

    def flush(self) -> Result:
        return Result(0)

    def close(self) -> None:
        pass

    def extents(self) -> Iterator[tuple[int, int, bool]]:
        yield 0, self.size, True


def extents(fd: int, size: int) -> Iterator[tuple[int, int, bool]]:
    """(offset, length, holds_data) runs covering the first ``size`` bytes
    of the file ``fd``, as SEEK_DATA/SEEK_HOLE tell them. What is a hole
    need not be read: reading a hole makes the kernel fill the page cache
    with zero pages (measured: digesting a fresh sparse copy of a 2 GiB
    image took 4 s, nearly all of it in pread). A file system that cannot
    tell is all data. (Moves the file offset: read with pread.)"""
    offset = 0
    while offset < size:
        try:
            data = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as e:
            yield offset, size - offset, e.errno != errno.ENXIO  # ENXIO: a hole to the end
            return
        if data > offset:
            yield offset, min(data, size) - offset, False
        if data >= size:
            return
        try:
            hole = min(os.lseek(fd, data, os.SEEK_HOLE), size)
        except OSError:  # the file changed under us: read the rest
            hole = size
        yield data, hole - data, True
        offset = hole


DIGEST_CHUNK = 1 << 20
"""A disk's digest is xxh3-128 over the xxh3-128 of each DIGEST_CHUNK of
its content in turn (the last one may be shorter). A chunk that lies wholly
in a hole has a digest known in advance, so holes are neither read nor
hashed: the identity of a sparse 2 TiB image with little data takes a
fraction of a second (hashing its zeros took 88 s, at each record, replay
and end of run). What is digested is the content, whatever the holes: a
file and its sparse copy, or a memory disk loaded from it, digest alike."""

_ZERO_CHUNK = bytes(DIGEST_CHUNK)

Chunk = TypeVar("Chunk", bytes, bytes | memoryview)
"""What a digest's ``read`` gives (pread's bytes, or a backend's view), and its ``on_data`` takes."""


def content_digest(backend: Backend, between: Callable[[], None] | None = None) -> str:
    """The digest of a disk's whole content (DIGEST_CHUNK), read a chunk
    at a time, its holes unread; ``between`` is called after each chunk (a
    blocking actor serves its inbox there, so that a large disk read from
    the host's disk does not silence it past the liveness bound)."""
    def read(offset: int, length: int) -> bytes | memoryview:
        result = backend.read(offset, length)
        if result.status:
            raise OSError(result.status, result.error)
        return result.data

    return _digest(backend.extents(), read, after=None if between is None else lambda done: between())


def file_digest(path: str, on_data: Callable[[int, bytes], None] | None = None,
                progress: Callable[[int], None] | None = None) -> tuple[int, str]:
    """(size, digest) of a file's content (DIGEST_CHUNK): a disk's
    identity. Each chunk read from the file's data goes to ``on_data``
    (offset, bytes) too (a copy made in the same pass), and ``progress``
    hears how many bytes are done after each chunk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        return size, _digest(extents(fd, size), lambda offset, length: os.pread(fd, length, offset),
                             on_data=on_data, after=progress)
    finally:
        os.close(fd)


def _digest(runs: Iterator[tuple[int, int, bool]], read: Callable[[int, int], Chunk],
            on_data: Callable[[int, Chunk], None] | None = None, after: Callable[[int], None] | None = None) -> str:
    """The digest (DIGEST_CHUNK) of the content ``runs`` cover, in order:
    each chunk that holds data is ``read`` whole (the hole in it reads as
    zeros) and goes to ``on_data`` (offset, bytes); ``after`` hears how
    many bytes are done after each chunk, and after each stretch of holes."""
    import xxhash

    chunk_digest = xxhash.xxh3_128_digest
    zero_digest = chunk_digest(_ZERO_CHUNK)
    h = xxhash.xxh3_128()
    position = 0  # a multiple of DIGEST_CHUNK: every chunk before it is digested
    size = 0
    data: list[tuple[int, int]] = []
    for start, length, holds_data in runs:
        size = start + length
        if holds_data and length:
            data.append((start, size))
    for start, end in [*data, (size, size)]:  # (the end: holes up to the last chunk, then that one)
        holes = (start - start % DIGEST_CHUNK - position) // DIGEST_CHUNK  # whole chunks before this data
        while holes > 0:
            batch = min(holes, 1 << 16)
            h.update(zero_digest * batch)
            holes -= batch
            position += batch * DIGEST_CHUNK
            if after is not None:
                after(position)
        while position < end:
            length = min(DIGEST_CHUNK, size - position)
            block = read(position, length)
            h.update(chunk_digest(block))
            if on_data is not None:
                on_data(position, block)
            position += length
            if after is not None:
                after(position)
    return h.hexdigest()
