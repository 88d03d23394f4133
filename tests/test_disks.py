"""Guests that drive the IDE controller, in full multi-process topologies
(cpu -> ide -> one image actor per disk), with raw and memory backends."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from .conftest import EXITWRITE_DATA, EXITWRITE_LBA, MANIFEST, REPO, build_exitwrite, build_guest, run_reel

M = 0xFFFFFFFF


def pattern(seed: int, sector: int, word: int) -> int:
    """guests/disktest.c's data pattern, word ``word`` of sector ``sector``."""
    x = seed ^ ((sector * 0x9E3779B1) & M) ^ ((word * 0x85EBCA77) & M)
    x ^= x >> 15
    x = (x * 0x2C1B3C6D) & M
    x ^= x >> 12
    return x


def region(disk: int, name: str, sectors: int) -> bytes:
    seed = 0x5EED0000 | (disk << 8) | ord(name)
    return b"".join(struct.pack("<I", pattern(seed, i, w)) for i in range(sectors) for w in range(128))


def make_disks(tmp_path: Path, count: int) -> list[str]:
    paths = []
    for i in range(count):
        path = tmp_path / f"d{i}.img"
        assert run_reel("mkdisk", str(path), "8M").returncode == 0
        paths.append(str(path))
    return paths


def disk_args(specs: list[str]) -> list[str]:
    return [arg for spec in specs for arg in ("--disk", spec)]


@pytest.mark.parametrize("backend", ["raw", "memory"])
@pytest.mark.parametrize("name", ["disktest", "ataerrors"])
def test_disk_guest_passes(name: str, backend: str, tmp_path: Path) -> None:
    entry = MANIFEST[name]
    specs = entry["disks"] if backend == "memory" else make_disks(tmp_path, len(entry["disks"]))
    result = run_reel("run", name, *disk_args(specs), timeout=300)
    assert result.returncode == entry["exit_code"], result.stdout + result.stderr
    assert result.stdout == entry["stdout"]


def test_disktest_passes_under_random_latency(tmp_path: Path) -> None:
    """A disk with latency runs on uvloop and reads on its thread pool
    (actors.image.Image): its large DMA read still sends its data straight
    to the cpu (BlockRequest.data_to)."""
    entry = MANIFEST["disktest"]
    result = run_reel("run", "disktest", *disk_args(make_disks(tmp_path, 2)), "--latency", "uniform:0:1ms",
                      "--seed", "7", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == entry["stdout"]


def test_disktest_data_is_on_the_image_files(tmp_path: Path) -> None:
    disks = make_disks(tmp_path, 2)
    assert run_reel("run", "disktest", *disk_args(disks), timeout=300).returncode == 0
    for index, path in enumerate(disks):
        data = Path(path).read_bytes()
        assert data[16 * 512:24 * 512] == region(index, "A", 8)  # PIO, LBA28
        assert data[1000 * 512:1128 * 512] == region(index, "C", 128)  # DMA, one PRD entry
        assert data[8 * 512:16 * 512] == bytes(8 * 512)  # untouched sectors stay zero


def journal(specs: list[str], latency: str, seed: int) -> tuple[str, int, str]:
    result = run_reel("run", "journal", *disk_args(specs), "--latency", latency, "--seed", str(seed), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "journal entries 128\n" in result.stdout
    return re.search(r"journal digest ([0-9a-f]{8})", result.stdout).group(1), result.returncode, result.stdout


def test_journal_on_image_files_holds_the_completion_order(tmp_path: Path) -> None:
    disks = make_disks(tmp_path, 2)
    digest, _, _ = journal(disks, "uniform:0:1ms", 1)
    entries = Path(disks[0]).read_bytes()[1024 * 512:1024 * 512 + 128]
    assert sorted(set(entries)) == [0, 1] and entries.count(0) == entries.count(1) == 64
    h = 2166136261
    for entry in entries:
        h = ((h ^ entry) * 16777619) & M
    assert f"{h:08x}" == digest


def test_journal_under_random_latency_is_not_deterministic_without_blkreplay() -> None:
    """The direct topology lets disk timing reach the guest: across seeds the
    order of completions, and so the digest, differs. (Record/replay is what
    makes it repeatable.)"""
    digests = {journal(["memory:8M", "memory:8M"], "uniform:0:2ms", seed)[0] for seed in range(6)}
    assert len(digests) > 1, f"six runs under random latency all printed {digests}"


def test_four_drives_on_both_channels_master_and_slave(tmp_path: Path) -> None:
    """Every drive slot, under random latency: PIO and DMA each way, and
    each image's bytes checked from outside afterwards."""
    elf = build_guest([REPO / "tests" / "guests" / "drives4.c", REPO / "guests" / "ata.c"], tmp_path / "drives4.elf")
    images = [tmp_path / f"d{i}.img" for i in range(4)]
    for image in images:
        assert run_reel("mkdisk", str(image), "1M").returncode == 0
    result = run_reel("run", str(elf), *(a for image in images for a in ("--disk", str(image))),
                      "--latency", "uniform:0:1ms", "--seed", "3", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "".join(f"drive {i} ok\n" for i in range(4))
    for i, image in enumerate(images):
        pattern = bytes((w * 7 + i * 31 + 1) & 0xFF for w in range(8 * 512))
        data = image.read_bytes()
        assert data[10 * 512:14 * 512] == pattern[:4 * 512], f"disk {i}: PIO-written sectors"
        assert data[20 * 512:28 * 512] == pattern, f"disk {i}: DMA-written sectors"
        assert data[:10 * 512] == bytes(10 * 512), f"disk {i}: bytes before them"


def test_a_write_in_flight_when_the_guest_exits_still_reaches_the_image(tmp_path: Path) -> None:
    """``exitwrite`` starts a 64 KiB DMA write and exits without waiting; the
    disk takes 300 ms. The run ends only once the write is on the image
    (before, it ended at once and the write was lost)."""
    elf = build_exitwrite(tmp_path)
    image = tmp_path / "d.img"
    assert run_reel("mkdisk", str(image), "1M").returncode == 0
    result = run_reel("run", str(elf), "--disk", str(image), "--latency", "fixed:300ms", timeout=60)
    assert result.returncode == 0 and result.stdout == "write started\n", result.stdout + result.stderr
    data = image.read_bytes()
    start, end = EXITWRITE_LBA * 512, EXITWRITE_LBA * 512 + len(EXITWRITE_DATA)
    assert data[start:end] == EXITWRITE_DATA
    assert data[:start] == bytes(start) and data[end:] == bytes(len(data) - end)


def test_a_disk_slower_than_half_a_minute_still_gets_the_last_write(tmp_path: Path) -> None:
    """The exit waited at most 30 s for the disks, then ended the run
    without their last writes (a warning said so): now it waits longer than
    any latency reel makes, saying every 10 s that it still does."""
    elf = build_exitwrite(tmp_path)
    image = tmp_path / "d.img"
    assert run_reel("mkdisk", str(image), "1M").returncode == 0
    result = run_reel("-q", "run", str(elf), "--disk", str(image), "--latency", "fixed:32s", timeout=120)
    assert result.returncode == 0 and result.stdout == "write started\n", result.stdout + result.stderr
    assert result.stderr.count("still waiting for the disks to carry out the guest's last requests") >= 2, \
        result.stderr
    assert image.read_bytes()[EXITWRITE_LBA * 512:][:len(EXITWRITE_DATA)] == EXITWRITE_DATA


def test_a_write_in_flight_when_the_instruction_bound_stops_the_guest_still_reaches_the_image(
        tmp_path: Path) -> None:
    """``exitwrite`` built to spin starts a 64 KiB DMA write and spins;
    --max-instructions stops it (exit 124) while the disk (300 ms) still has
    the write: it is on the image after the run (before, it was lost)."""
    elf = build_exitwrite(tmp_path, spin=True)
    image = tmp_path / "d.img"
    assert run_reel("mkdisk", str(image), "1M").returncode == 0
    result = run_reel("run", str(elf), "--disk", str(image), "--latency", "fixed:300ms", "--max-instructions",
                      "2000000", timeout=60)
    assert result.returncode == 124 and result.stdout == "write started\n", result.stdout + result.stderr
    assert image.read_bytes()[EXITWRITE_LBA * 512:][:len(EXITWRITE_DATA)] == EXITWRITE_DATA


def test_dma_outside_ram_is_a_bus_master_error_and_the_guest_goes_on(tmp_path: Path) -> None:
    elf = build_guest([REPO / "tests" / "guests" / "baddma.c", REPO / "guests" / "ata.c"], tmp_path / "baddma.elf")
    result = run_reel("run", str(elf), "--disk", "memory:1M", timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    failed = "bms 06 status 41 error 04"  # bus master: error + interrupt; ERR with ABRT (DRDY|ERR, as QEMU)
    assert result.stdout.splitlines() == [
        f"read into 0x1000: {failed}", f"read into 0xffffff00: {failed}", f"read across the end of RAM: {failed}",
        f"write from 0x1000: {failed}", "read into RAM: bms 04 status 50 error 00"]


def test_only_a_change_of_the_start_bit_starts_the_bus_master(tmp_path: Path) -> None:
    """tests/guests/bmstart.c: a start written twice starts one transfer,
    and the next command waits for a start of its own (before, it took the
    second write's and went through the old table into the old buffer)."""
    elf = build_guest([REPO / "tests" / "guests" / "bmstart.c", REPO / "guests" / "ata.c"], tmp_path / "bmstart.elf")
    result = run_reel("run", str(elf), "--disk", "memory:1M", timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == ["sector 2 in b1, the engine done (bms 04): ok",
                                          "sector 3 waits for a start: ok",
                                          "sector 3 in b2 through its own table, b1 untouched: ok"]


def test_a_memory_disk_larger_than_the_host_is_refused_up_front() -> None:
    result = run_reel("run", "disktest", "--disk", "memory:1000T")
    assert result.returncode == 2 and "more than this host's memory" in result.stderr, result.stderr


@pytest.mark.parametrize("size", ["abc", ""])
def test_a_bad_memory_disk_size_names_the_disk(size: str) -> None:
    result = run_reel("run", "hello", "--disk", f"memory:{size}")
    assert result.returncode == 2, result.stderr
    assert f"reel: disk memory:{size}: {size!r} is not a size" in result.stderr, result.stderr


@pytest.mark.parametrize("poll_every", [20, 1000, 65536])
def test_pio_without_waiting_for_drq_moves_every_word_once(tmp_path: Path, poll_every: int) -> None:
    """The device offers a PIO block as it takes the command; the cpu's side
    of the window learns of it only when it next reads its inbox. Reads and
    posted writes made in between reach the ide itself, the rest are served
    on the cpu's side: every word must still be read once and written once,
    wherever the cpu's polls fall."""
    elf = build_guest([REPO / "tests" / "guests" / "nodrq.c", REPO / "guests" / "ata.c"], tmp_path / "nodrq.elf")
    image = tmp_path / "d.img"
    assert run_reel("mkdisk", str(image), "1M").returncode == 0
    result = run_reel("run", str(elf), "--disk", str(image), "--poll-every", str(poll_every), timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ("identify word 0 00000040 checksum 00000000 status 00000050\n"
                             "write status 00000050\n")
    written = image.read_bytes()[3 * 512:4 * 512]
    assert written == b"".join((0xA0000000 + i).to_bytes(4, "little") for i in range(128))
