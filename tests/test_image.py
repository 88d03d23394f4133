"""The disk image actor and its backends."""

from __future__ import annotations

import errno
import logging
import os
import resource
import subprocess
from pathlib import Path

import msgspec
import pytest

from actors.image import Latency, LatencyError, Memory, RawFile
from actors.image.backends import check
from launch import ActorConfig, LinkConfig, Topology, launch

from .conftest import reel_command, run_reel


def test_backends_read_write_flush(tmp_path: Path) -> None:
    path = tmp_path / "d.img"
    path.write_bytes(bytes(4096))
    for backend in (RawFile(str(path)), Memory(4096)):
        assert backend.write(512, b"\x07" * 512).status == 0
        assert backend.read(512, 512).data == b"\x07" * 512
        assert backend.flush().status == 0
        backend.close()
    assert path.read_bytes()[512:1024] == b"\x07" * 512


def _kernel_populates_mappings(folder: Path) -> bool:
    import mmap

    probe = folder / "probe"
    probe.write_bytes(bytes(mmap.PAGESIZE))
    with open(probe, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
        try:
            m.madvise(getattr(mmap, "MADV_POPULATE_READ", 22), 0, mmap.PAGESIZE)
        except OSError:
            return False
    return True


def test_a_large_read_of_a_raw_file_is_a_view_of_it_that_later_writes_show(tmp_path: Path) -> None:
    """Reads of MAPPED_MIN bytes or more come from the file's mapping, not
    copied (the frame carries the page cache's bytes); smaller ones are
    copies. The mapping is the file: a write is seen by the next read."""
    from actors.image.backends import MAPPED_MIN

    path = tmp_path / "d.img"
    content = os.urandom(4 * MAPPED_MIN)
    path.write_bytes(content)
    disk = RawFile(str(path))
    large = disk.read(100, 2 * MAPPED_MIN)  # (not page aligned)
    assert large.data == content[100:100 + 2 * MAPPED_MIN]
    # (A kernel before MADV_POPULATE_READ, Linux 5.14, has every read copied.)
    assert isinstance(large.data, memoryview if _kernel_populates_mappings(tmp_path) else bytes)
    small = disk.read(100, 512)
    assert isinstance(small.data, bytes) and small.data == content[100:612]
    assert disk.write(MAPPED_MIN, b"\x5a" * 512).status == 0
    assert disk.read(0, 2 * MAPPED_MIN).data[MAPPED_MIN:MAPPED_MIN + 512] == b"\x5a" * 512
    disk.close()  # with a view still held (a frame on its way): no error, and the file is let go
    assert large.data[:4] == content[100:104]  # the view stays readable until it goes
    with pytest.raises(OSError):
        os.fstat(disk.fd)


def test_a_raw_file_cut_short_under_its_disk_fails_a_large_read_instead_of_crashing(tmp_path: Path) -> None:
    """A page the mapping cannot read would be a SIGBUS as the frame is sent:
    the read first makes sure its pages can be read, else falls back to
    pread, which says what went wrong."""
    from actors.image.backends import MAPPED_MIN

    path = tmp_path / "d.img"
    path.write_bytes(os.urandom(4 * MAPPED_MIN))
    disk = RawFile(str(path))
    os.truncate(path, MAPPED_MIN)  # someone else cuts the image short
    result = disk.read(2 * MAPPED_MIN, MAPPED_MIN)
    assert result.status == errno.EIO and "short read" in result.error
    disk.close()


def test_requests_are_checked_against_the_disk() -> None:
    assert check(4096, "read", 0, 4096, 0) is None
    assert check(4096, "read", 4000, 512, 0).error == "read of 512 bytes at 4000 is outside the disk (4096 bytes)"
    assert check(4096, "write", 0, 512, 100).error == "write of 512 bytes carries 100"
    assert check(4096, "trim", 0, 0, 0).status == errno.EINVAL


def test_latency_specs_and_their_seeds() -> None:
    assert Latency("fixed:200us").draw() == pytest.approx(200e-6)
    a = [Latency("uniform:0:2ms", 7).draw() for _ in range(1)]
    first, second = Latency("uniform:0:2ms", 7), Latency("uniform:0:2ms", 7)
    assert [first.draw() for _ in range(20)] == [second.draw() for _ in range(20)]
    assert a[0] <= 2e-3
    assert [Latency("exp:1ms", 1).draw() for _ in range(3)] != [Latency("exp:1ms", 2).draw() for _ in range(3)]
    for bad in ("fixed", "uniform:2ms:1ms", "fixed:fast", "gauss:1ms"):
        with pytest.raises(LatencyError):
            Latency(bad)


def run_client(disk_params: dict, requests: list) -> list:
    topology = Topology(actor=[ActorConfig("disk", "actors.image:Image", disk_params),
                               ActorConfig("client", "tests.actors_for_tests:BlockClient", {"requests": requests})],
                        link=[LinkConfig(("client", "disk"), digest=False)])
    result = launch(topology, log_level=logging.ERROR, forward_stderr=False)
    assert result.code == 0, result.reason
    return result.report["answers"]


def test_out_of_range_and_bad_requests_become_error_completions(tmp_path: Path) -> None:
    path = tmp_path / "d.img"
    path.write_bytes(bytes(8192))
    answers = run_client({"backend": "raw", "path": str(path)}, [
        ("write", 0, 4, b"abcd"), ("read", 0, 4, b""), ("read", 8190, 4, b""), ("erase", 0, 0, b""),
        ("write", 0, 4, b"ab")])
    assert answers[0] == [0, 0, "", ""] and answers[1] == [1, 0, b"abcd".hex(), ""]
    assert answers[2][1] == errno.EINVAL and "outside the disk" in answers[2][3]
    assert answers[3][1] == errno.EINVAL and "unknown operation" in answers[3][3]
    assert answers[4][1] == errno.EINVAL and "carries 2" in answers[4][3]
    assert path.read_bytes()[:4] == b"abcd"


def test_random_latency_completes_out_of_order_and_reproducibly(tmp_path: Path) -> None:
    """Each run follows the delays its seed draws (in arrival order: request
    i gets draw i): wherever two drawn delays lie more than 5 ms apart, both
    runs complete those requests in that order. Closer ones may swap."""
    requests = [("read", 512 * i, 512, b"") for i in range(16)]
    latency = Latency("uniform:0:40ms", 3)
    delays = [latency.draw() for _ in requests]
    apart = [(i, j) for i in range(16) for j in range(16) if delays[i] + 0.005 < delays[j]]
    assert len(apart) > 60  # the test has pairs to check
    for _ in range(2):
        answers = run_client({"backend": "memory", "size": 1 << 20, "latency": "uniform:0:40ms", "seed": 3}, requests)
        assert all(status == 0 for _, status, _, _ in answers)
        order = [request_id for request_id, *_ in answers]
        assert order != sorted(order)  # the host's order, not the requests'
        place = {request_id: k for k, request_id in enumerate(order)}
        wrong = [(i, j) for i, j in apart if place[i] > place[j]]
        assert not wrong, f"completed against their seeded delays: {wrong} (delays {delays})"


def test_mkdisk_creates_a_sparse_image_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "new.img"
    result = run_reel("mkdisk", str(path), "8M")
    assert result.returncode == 0 and path.stat().st_size == 8 << 20
    assert path.stat().st_blocks * 512 < 1 << 20  # sparse
    again = run_reel("mkdisk", str(path), "8M")
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = run_reel("mkdisk", str(tmp_path / "odd.img"), "1000")
    assert bad.returncode == 2 and "not a positive multiple of 512" in bad.stderr
    empty = run_reel("mkdisk", "", "1M")  # it said ': already exists' (the current folder)
    assert empty.returncode == 2 and "reel: the image's path is empty" in empty.stderr, empty.stderr


def test_a_failed_mkdisk_keeps_the_image_it_would_replace_and_leaves_nothing(tmp_path: Path) -> None:
    precious = tmp_path / "precious.img"
    precious.write_bytes(b"data that must survive")
    too_big = subprocess.run(reel_command("mkdisk", str(precious), "8M", "--force"), capture_output=True, text=True,
                             preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20)),
                             timeout=60, check=False)  # files may not grow past 1 MiB there
    assert too_big.returncode == 2 and "File too large" in too_big.stderr, too_big.stderr
    assert precious.read_bytes() == b"data that must survive"
    huge = run_reel("mkdisk", str(tmp_path / "huge.img"), "99999999999999999999T")
    assert huge.returncode == 2 and "more than an LBA48 disk holds" in huge.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious.img"]


def test_a_disk_without_latency_is_served_inline_and_one_with_latency_concurrently() -> None:
    from actors._async import AsyncActor
    from actors._blocking import BlockingActor
    from actors.image import Image, InlineImage

    assert Image.serving({"backend": "memory", "size": 4096}) is InlineImage
    assert issubclass(InlineImage, BlockingActor) and InlineImage.Params is Image.Params
    assert Image.serving({"backend": "memory", "size": 4096, "latency": "fixed:1ms"}) is Image
    assert issubclass(Image, AsyncActor)
    # parameters it cannot read stay with Image, which reports them when it starts
    assert Image.serving({"backend": "memory", "latency": "gauss:1ms"}) is Image
    assert Image.serving({"backend": "tape"}) is Image
    # named directly, the inline image does not drop a latency: the disk gets it on Image
    assert InlineImage.serving({"backend": "memory", "size": 4096, "latency": "fixed:1ms"}) is Image
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"threads": 0}, Image.Params)


def test_a_content_digest_lets_its_actor_serve_between_chunks() -> None:
    from actors.image.backends import content_digest

    disk = Memory(5 << 20, b"\x01" * (3 << 20))
    calls = []
    digest = content_digest(disk, between=lambda: calls.append(1))
    assert len(calls) == 5  # once per MiB read: an inline image polls its inbox there
    assert digest == content_digest(disk) != content_digest(Memory(5 << 20))


def _reference_digest(content: bytes) -> str:
    """A disk's digest as defined (actors.image.backends.DIGEST_CHUNK),
    computed the plain way: every chunk read and hashed."""
    import xxhash

    from actors.image.backends import DIGEST_CHUNK

    outer = xxhash.xxh3_128()
    for offset in range(0, len(content), DIGEST_CHUNK):
        outer.update(xxhash.xxh3_128_digest(content[offset:offset + DIGEST_CHUNK]))
    return outer.hexdigest()


def test_a_sparse_disk_is_digested_without_hashing_its_holes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 16 GiB image holding 2 small extents: its holes are neither read
    nor hashed (hashing their zeros took 88 s for 2 TiB, at every record,
    replay and end of run), and its digest is still that of its bytes."""
    import xxhash

    from actors.image import backends

    path = tmp_path / "big.img"
    with open(path, "wb") as f:
        f.truncate(16 << 30)
        f.seek(5 << 30)
        f.write(b"\x01" * 5000)
        f.seek((16 << 30) - 3)
        f.write(b"end")
    hashed = []
    plain, plain_digest = xxhash.xxh3_128, xxhash.xxh3_128_digest

    class Counting:
        def __init__(self) -> None:
            self.h = plain()

        def update(self, data: bytes) -> None:
            hashed.append(len(data))
            self.h.update(data)

        def hexdigest(self) -> str:
            return self.h.hexdigest()

    def counted_digest(data: bytes) -> bytes:
        hashed.append(len(data))
        return plain_digest(data)

    monkeypatch.setattr(xxhash, "xxh3_128", Counting)
    monkeypatch.setattr(xxhash, "xxh3_128_digest", counted_digest)
    size, digest = backends.file_digest(str(path))
    assert size == 16 << 30 and sum(hashed) < 8 << 20, f"hashed {sum(hashed)} bytes"
    monkeypatch.undo()
    expected = xxhash.xxh3_128()
    zero = xxhash.xxh3_128_digest(bytes(backends.DIGEST_CHUNK))
    for index in range((16 << 30) // backends.DIGEST_CHUNK):
        if index in (5 << 10, (16 << 10) - 1):  # the chunks that hold data (at 5 GiB, at the end)
            with open(path, "rb") as f:
                expected.update(xxhash.xxh3_128_digest(os.pread(f.fileno(), backends.DIGEST_CHUNK,
                                                                 index * backends.DIGEST_CHUNK)))
        else:
            expected.update(zero)
    assert digest == expected.hexdigest()


def _sparse_image(path: Path) -> bytes:
    """A 40 MiB file: holes, data at odd offsets and lengths, zeros written
    as data, data at the very end. Returns its content."""
    with open(path, "wb") as f:
        f.truncate(40 << 20)
        f.seek(3 << 20)
        f.write(os.urandom(5000))
        f.seek((17 << 20) + 123)
        f.write(b"\x5a" * (3 << 20))
        f.write(bytes(2 << 20))  # zeros that are data, not a hole
        f.seek((40 << 20) - 10)
        f.write(b"the end...")
    return path.read_bytes()


def test_digests_and_working_copies_of_sparse_images_equal_those_of_their_bytes(tmp_path: Path) -> None:
    """Holes are hashed as zeros without being read, and left out of the
    working copy: whatever SEEK_DATA/SEEK_HOLE report, the digest is the
    hash of the bytes and the copy holds the same bytes."""
    import xxhash

    from actors.image.backends import content_digest, extents, file_digest
    from launch.recording import working_copy

    path = tmp_path / "sparse.img"
    content = _sparse_image(path)
    plain = _reference_digest(content)
    assert file_digest(str(path)) == (40 << 20, plain)
    disk = RawFile(str(path), writable=False)
    assert content_digest(disk) == content_digest(Memory(40 << 20, content)) == plain
    runs = list(disk.extents())
    disk.close()
    assert runs[0][0] == 0 and sum(length for _, length, _ in runs) == 40 << 20
    assert all(a + n == b for (a, n, _), (b, _, _) in zip(runs, runs[1:]))  # in order, no gap, no overlap
    with open(path, "rb") as f:  # what the file system says is data is all there is
        assert all(not any(content[a:a + n]) for a, n, data in extents(f.fileno(), 40 << 20) if not data)
    copy = working_copy(str(path), str(tmp_path), 0)
    assert Path(copy.path).read_bytes() == content and copy.size == 40 << 20
    assert os.stat(copy.path).st_blocks * 512 < 16 << 20  # the holes stayed holes


def test_a_working_copy_is_whole_when_the_file_system_writes_less_than_asked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pwrite may write part of a block (a disk filling up): the copy goes
    on with the rest instead of leaving a gap the header's digest hides."""
    from launch import recording

    path = tmp_path / "sparse.img"
    content = _sparse_image(path)
    pwrite = os.pwrite
    monkeypatch.setattr(recording.os, "pwrite", lambda fd, data, offset: pwrite(fd, bytes(data)[:1000], offset))
    copy = recording.working_copy(str(path), str(tmp_path), 0)
    assert Path(copy.path).read_bytes() == content


def test_a_working_copy_that_finds_no_room_says_which_file_and_where_room_is_short(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full TMPDIR used to end a recording with a bare "No space left on
    device", naming no file."""
    from launch import recording
    from launch.disks import DiskError

    path = tmp_path / "sparse.img"
    _sparse_image(path)
    scratch = tmp_path / "reel-record-x"
    scratch.mkdir()

    def full(fd: int, data: bytes, offset: int) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(recording.os, "pwrite", full)
    with pytest.raises(DiskError) as caught:
        recording.working_copy(str(path), str(scratch), 0)
    assert str(caught.value) == (
        f"{scratch}/disk0.img: cannot write the working copy of {path}: No space left on device; "
        f"set TMPDIR to a folder with room for a copy of each disk's data (it is {tmp_path})")


def test_a_long_copy_says_how_far_it_is_and_a_short_one_says_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from launch import recording

    path = tmp_path / "sparse.img"
    _sparse_image(path)
    caplog.set_level(logging.INFO, logger="reel")
    recording.identified_copy(str(path), str(tmp_path), 0)
    assert not caplog.records  # done within PROGRESS_SECONDS
    monkeypatch.setattr(recording, "PROGRESS_SECONDS", 0.0)  # every chunk is late: each says so
    copy, ident = recording.identified_copy(str(path), str(tmp_path), 1)
    lines = [r.getMessage() for r in caplog.records]
    assert lines and all(line.startswith(f"copying {path}: ") for line in lines)
    assert lines[-1] == f"copying {path}: 40 MiB of 40 MiB (100%)"
    assert (ident.size, ident.digest) == recording.file_digest(str(path))


def test_a_file_system_that_cannot_tell_holes_is_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import xxhash

    from actors.image import backends

    path = tmp_path / "sparse.img"
    content = _sparse_image(path)

    def no_seek_data(fd: int, offset: int, how: int) -> int:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(backends.os, "lseek", no_seek_data)
    with open(path, "rb") as f:
        assert list(backends.extents(f.fileno(), 40 << 20)) == [(0, 40 << 20, True)]
    assert backends.file_digest(str(path))[1] == _reference_digest(content)


def test_an_image_in_use_by_another_run_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "shared.img"
    path.write_bytes(bytes(4096))
    first = RawFile(str(path))
    with pytest.raises(ValueError, match="shared.img: in use by another run"):
        RawFile(str(path))
    first.close()
    RawFile(str(path)).close()  # free again once the first lets go


def test_reel_run_refuses_a_disk_another_run_holds_before_it_starts(tmp_path: Path) -> None:
    """Said up front, exit 2, as reel record does; the disk actor used to
    find the lock and the run failed, exit 70."""
    from .conftest import run_reel

    held, other = tmp_path / "held.img", tmp_path / "other.img"
    for path in (held, other):
        path.write_bytes(bytes(1 << 20))
    first = RawFile(str(held))  # as a running disk actor holds it
    try:
        result = run_reel("run", "disktest", "--disk", str(held), "--disk", str(other), timeout=60)
    finally:
        first.close()
    assert result.returncode == 2, result.stderr
    assert f"reel: disk {held}: in use by another run" in result.stderr


def test_a_subclass_of_the_image_actor_runs_as_itself() -> None:
    """The stock classes pick their driver by latency (InlineImage for none,
    Image otherwise); a subclass a topology names was swapped for the stock
    class, its own code silently left out."""
    from actors.image import Image, InlineImage

    class Mine(Image):
        pass

    class MineInline(InlineImage):
        pass

    none, some = {"backend": "memory", "size": 4096}, {"backend": "memory", "size": 4096, "latency": "fixed:1ms"}
    assert Image.serving(none) is InlineImage and Image.serving(some) is Image  # the stock choice stands
    assert InlineImage.serving(some) is Image
    assert Mine.serving(none) is Mine and Mine.serving(some) is Mine
    assert MineInline.serving(none) is MineInline and MineInline.serving(some) is MineInline


def _rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / (1 << 20)


def test_a_memory_disk_takes_host_memory_only_as_it_is_written() -> None:
    """A bytearray of the disk's size wrote every page at once: 8 GiB took
    18 s and 8 GiB before the first request (the disk actor then went
    silent past the liveness bound)."""
    before = _rss_mib()
    disk = Memory(2 << 30)
    assert _rss_mib() - before < 64
    assert disk.write((2 << 30) - 512, b"\x05" * 512).status == 0
    assert disk.read((2 << 30) - 1024, 1024).data == bytes(512) + b"\x05" * 512
    assert _rss_mib() - before < 64
    with pytest.raises(ValueError, match="a memory disk needs a positive size, not 0"):
        Memory(0)


def test_a_memory_disk_loads_its_base_in_one_pass_with_progress(tmp_path: Path) -> None:
    """Loading a base read it whole (holes too), then copied it twice: three
    times its size at the peak, and no word to the peers meanwhile."""
    from actors.image.backends import file_digest

    base = tmp_path / "base.img"
    with open(base, "wb") as f:
        f.truncate(256 << 20)  # a hole, but for 24 MiB of data at 100 MiB
        f.seek(100 << 20)
        f.write(os.urandom(24 << 20))
    before = _rss_mib()
    done: list[int] = []
    disk, digest = Memory.loaded(str(base), progress=done.append)
    assert _rss_mib() - before < 24 + 48  # the data, not the size (nor three copies of it)
    assert digest == file_digest(str(base))[1]
    assert disk.size == 256 << 20 and disk.read(0, 256 << 20).data == base.read_bytes()
    assert len(done) >= 24 and done == sorted(done)  # a word at every chunk of data
    smaller, _ = Memory.loaded(str(base), size=110 << 20)  # a disk smaller than its base takes its start
    assert smaller.read(0, 110 << 20).data == base.read_bytes()[:110 << 20]
