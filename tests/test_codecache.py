"""Compiled regions kept from run to run (actors.cpu.codecache): a region
loaded from the cache runs as the one compiled; a damaged, unreadable or
unwritable cache costs a compile, never a run; the key follows the code."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from actors.cpu import codecache
from actors.cpu.codecache import CodeCache, region_key
from actors.cpu.elf import parse
from actors.cpu.machine import Machine
from launch import launch
from launch.topology import ActorConfig, Topology

from .conftest import REPO

BENCH = (REPO / "launch" / "guests" / "bench.elf").read_bytes()
SLICE = 3_000_000  # instructions of bench: enough for its hot loops to compile


def run_bench_slice(cache: CodeCache | None) -> Machine:
    m = Machine(code_cache=cache)
    m.load(parse(BENCH, "bench"))
    assert m.run(SLICE) == "limit"
    return m


def outcome(m: Machine) -> tuple[str, str, int]:
    return m.state_digest(), m.memory_digest(), m.icount[0]


def test_regions_from_the_cache_run_as_compiled_ones(tmp_path: Path) -> None:
    plain = run_bench_slice(None)
    cache = CodeCache(str(tmp_path))
    first = run_bench_slice(cache)
    assert cache.hits == 0 and cache.stores == first.translator.translated > 10
    again = CodeCache(str(tmp_path))
    second = run_bench_slice(again)
    assert again.hits == second.translator.translated and again.misses == 0
    assert outcome(plain) == outcome(first) == outcome(second)


def test_a_damaged_entry_is_compiled_again_and_replaced(tmp_path: Path) -> None:
    run_bench_slice(CodeCache(str(tmp_path)))
    entries = sorted(p for p in tmp_path.iterdir() if not p.name.startswith("."))
    victim = entries[len(entries) // 2]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x40
    victim.write_bytes(bytes(data))
    cache = CodeCache(str(tmp_path))
    m = run_bench_slice(cache)
    assert cache.misses == 1 and cache.hits == m.translator.translated - 1
    assert victim.read_bytes() != bytes(data)  # stored anew, whole
    assert outcome(m) == outcome(run_bench_slice(None))


def test_a_cache_that_cannot_be_written_costs_only_its_use(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    cache = CodeCache(str(blocker / "code"))
    m = run_bench_slice(cache)
    assert not cache.usable and cache.stores == 0 and cache.hits == 0
    assert outcome(m) == outcome(run_bench_slice(None))


def test_the_key_follows_the_instructions_and_the_ram_size() -> None:
    region = [([(0x80000000, None, 0x00100093), (0x80000004, None, 0x0000006F)], None)]
    changed = [([(0x80000000, None, 0x00200093), (0x80000004, None, 0x0000006F)], None)]
    moved = [([(0x80000010, None, 0x00100093), (0x80000014, None, 0x0000006F)], None)]
    keys = {region_key(1 << 24, region), region_key(1 << 24, changed), region_key(1 << 24, moved),
            region_key(1 << 20, region)}
    assert len(keys) == 4
    assert region_key(1 << 24, region) == region_key(1 << 24, [(list(region[0][0]), None)])


def test_past_its_bound_the_cache_drops_its_older_half(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codecache, "MAX_ENTRIES", 8)
    cache = CodeCache(str(tmp_path))
    code = compile("x = 1", "<test>", "exec")
    for n in range(10):
        cache.store(f"{n:064x}", code)
        os.utime(tmp_path / f"{n:064x}", (n, n))  # written in this order
    cache.prune()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{n:064x}" for n in range(5, 10)]


def test_a_killed_writers_temporary_file_goes_once_it_is_old(tmp_path: Path) -> None:
    cache = CodeCache(str(tmp_path))
    old, fresh = tmp_path / (codecache.TEMPORARY + "old"), tmp_path / (codecache.TEMPORARY + "fresh")
    old.write_bytes(b"half a region")
    fresh.write_bytes(b"being written now")
    os.utime(old, (0, 0))
    cache.prune()
    assert not old.exists() and fresh.exists()


def test_without_a_home_there_is_no_default_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REEL_CODE_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(os.path, "expanduser", lambda path: path)  # as with no HOME and no passwd entry
    assert CodeCache.default() is None


def test_the_environment_chooses_the_folder_or_turns_it_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REEL_CODE_CACHE", "off")
    assert CodeCache.default() is None
    monkeypatch.setenv("REEL_CODE_CACHE", str(tmp_path))
    assert CodeCache.default().folder == str(tmp_path)  # type: ignore[union-attr]
    monkeypatch.delenv("REEL_CODE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert CodeCache.default().folder == str(tmp_path / "xdg" / "reel" / "code")  # type: ignore[union-attr]


def test_a_cpu_actor_runs_from_the_cache_its_last_run_filled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REEL_CODE_CACHE", str(tmp_path))
    topology = Topology(actor=[ActorConfig("cpu", "actors.cpu:Cpu", {"elf": BENCH, "console": "none",
                                                                      "max_instructions": SLICE})])
    first, second = (launch(topology, log_level=logging.WARNING) for _ in range(2))
    assert first.code == second.code == 124, (first.reason, second.reason)
    assert first.report["code_cache"]["hits"] == 0 and first.report["code_cache"]["misses"] > 10
    assert second.report["code_cache"]["misses"] == 0
    assert second.report["code_cache"]["hits"] == first.report["code_cache"]["misses"]
    assert first.report["state_digest"] == second.report["state_digest"]
    assert first.report["memory_digest"] == second.report["memory_digest"]
