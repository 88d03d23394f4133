"""Programs that cannot run are refused with a clear error."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from actors.cpu import ElfError, parse

from .conftest import GUESTS, run_reel

HELLO = (GUESTS / "hello.elf").read_bytes()


def patched(offset: int, fmt: str, value: int) -> bytes:
    data = bytearray(HELLO)
    struct.pack_into(fmt, data, offset, value)
    return bytes(data)


def two_segments(second: int) -> bytes:
    """A minimal RV32 executable whose two 16-byte segments start at
    0x80000000 and ``second``, both from the same code (it exits 0x5555)."""
    code = bytes.fromhex("b7051000" "37650000" "13055555" "23a0a500")
    header = b"\x7fELF\x01\x01\x01" + bytes(9) + struct.pack("<HHIIIIIHHHHHH", 2, 243, 1, 0x80000000, 52, 0, 0,
                                                                  52, 32, 2, 40, 0, 0)
    headers = b"".join(struct.pack("<IIIIIIII", 1, 52 + 64, address, address, 16, 16, 7, 4)
                       for address in (0x80000000, second))
    return header + headers + code


BAD = {
    # which segment's bytes the shared ones are would depend on the headers' order (QEMU refuses it too)
    "overlapping-segments": (two_segments(0x80000008), "segments 0 [0x80000000, 0x80000010) and 1 "
                                                       "[0x80000008, 0x80000018) overlap"),
    "truncated": (HELLO[:40], "truncated: 40 bytes, shorter than an ELF32 header"),
    "truncated-headers": (HELLO[:60], "truncated: program headers end at byte"),
    "64-bit": (HELLO[:4] + b"\x02" + HELLO[5:], "a 64-bit ELF file; this machine runs RV32"),
    "x86": (patched(18, "<H", 3), "an ELF file for x86, not RISC-V (e_machine 3, expected 243)"),
    "not-elf": (b"#!/bin/sh\necho hi\n" * 4, "not an ELF file"),
    "big-endian": (HELLO[:5] + b"\x02" + HELLO[6:], "big-endian ELF file"),
    "relocatable": (patched(16, "<H", 1), "not an executable (e_type 1)"),
    "short": (HELLO[:7], "truncated: 7 bytes, shorter than an ELF identification (16)"),
    "compressed": (patched(36, "<I", 0x1), "built for the compressed extension (e_flags 0x1 has RVC)"),
    "rv32e": (patched(36, "<I", 0x8), "built for RV32E"),
    "hard-float": (patched(36, "<I", 0x4), "built for a hardware floating-point ABI"),
    "misaligned-entry": (patched(24, "<I", 0x80000002), "entry point 0x80000002 is not 4-byte aligned"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_elf_is_refused_by_reel_run(case: str, tmp_path: Path) -> None:
    data, message = BAD[case]
    path = tmp_path / f"{case}.elf"
    path.write_bytes(data)
    result = run_reel("run", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"reel: {path}: ") and message in result.stderr, result.stderr


def test_segments_that_only_touch_are_loaded() -> None:
    assert [s.address for s in parse(two_segments(0x80000010)).segments] == [0x80000000, 0x80000010]


def test_segment_outside_ram_is_refused() -> None:
    from actors.cpu import Machine

    program = parse(HELLO)  # its segment (text, data, bss, stack) needs 66 KiB
    with pytest.raises(ValueError, match=r"lies outside RAM \[0x80000000, 0x80010000\)"):
        Machine(ram_size=64 << 10).load(program)


def test_reel_run_refuses_a_program_larger_than_its_ram_before_starting() -> None:
    result = run_reel("run", "diskseq", "--ram", "1")  # its 1 MiB DMA buffer and code need more
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("reel: diskseq: segment ") and "lies outside RAM" in result.stderr
    assert "(1 MiB)" in result.stderr and "actor" not in result.stderr  # refused up front, no actor started


def test_parse_names_the_file() -> None:
    with pytest.raises(ElfError, match="^kernel.img: not an ELF file"):
        parse(b"nope" * 20, "kernel.img")


def test_reel_run_refuses_a_file_that_is_not_regular() -> None:
    result = run_reel("run", "/dev/zero", timeout=30)  # read whole, it would never end
    assert result.returncode == 2 and "reel: /dev/zero: not a regular file" in result.stderr, result.stderr


def test_a_name_too_long_for_the_file_system_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    long = "x" * 300
    for args, said in ((("run", long + ".elf"), f"{long}.elf: cannot read: File name too long"),
                       (("run", long), f"{long}: cannot read: File name too long"),
                       (("mkdisk", str(tmp_path / (long + ".img")), "1M"), "File name too long")):
        result = run_reel(*args, timeout=30)
        assert result.returncode == 2 and said in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_a_folder_named_as_a_bundled_guest_does_not_hide_it(tmp_path: Path) -> None:
    """``mkdir hello; reel run hello`` said 'hello: not a regular file'."""
    import subprocess

    from .conftest import _env, reel_command

    (tmp_path / "hello").mkdir()
    result = subprocess.run(reel_command("run", "hello"), capture_output=True, text=True, cwd=tmp_path,
                            env=_env(), timeout=60, check=False)
    assert result.returncode == 0 and result.stdout == "hello from reel\n", result.stderr
