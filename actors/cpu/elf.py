"""Loading RV32 ELF executables: program headers and entry point.

Anything that is not a little-endian 32-bit RISC-V executable whose loadable
segments fit in RAM is refused with an ``ElfError`` saying what is wrong.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

EM_RISCV = 243
PT_LOAD = 1
ET_EXEC = 2
EF_RISCV_RVC = 0x1
EF_RISCV_FLOAT_ABI = 0x6
EF_RISCV_RVE = 0x8
_MACHINES = {3: "x86", 62: "x86-64", 40: "ARM", 183: "AArch64", 8: "MIPS", 20: "PowerPC", 21: "PowerPC64"}


class ElfError(ValueError):
    """An ELF file that cannot run on this machine."""


class Segment(NamedTuple):
    address: int
    data: bytes  # the bytes from the file
    memsize: int  # data, then zeros up to this size


class Program(NamedTuple):
    entry: int
    segments: list[Segment]


def parse(image: bytes, name: str = "ELF file") -> Program:
    """The loadable segments and entry point of ``image``."""
    if image[:4] != b"\x7fELF"[:len(image)] or not image:
        raise ElfError(f"{name}: not an ELF file (starts with {image[:4]!r})")
    if len(image) < 16:
        raise ElfError(f"{name}: truncated: {len(image)} bytes, shorter than an ELF identification (16)")
    if image[4] == 2:
        raise ElfError(f"{name}: a 64-bit ELF file; this machine runs RV32 (32-bit) programs only")
    if image[4] != 1:
        raise ElfError(f"{name}: unknown ELF class {image[4]}")
    if image[5] != 1:
        raise ElfError(f"{name}: big-endian ELF file; RISC-V programs are little-endian")
    if len(image) < 52:
        raise ElfError(f"{name}: truncated: {len(image)} bytes, shorter than an ELF32 header (52)")
    (e_type, e_machine, _, e_entry, e_phoff, _, e_flags, _, e_phentsize, e_phnum, _, _, _) = struct.unpack_from(
        "<HHIIIIIHHHHHH", image, 16)
    if e_machine != EM_RISCV:
        other = _MACHINES.get(e_machine, f"machine {e_machine}")
        raise ElfError(f"{name}: an ELF file for {other}, not RISC-V (e_machine {e_machine}, expected {EM_RISCV})")
    if e_type != ET_EXEC:
        raise ElfError(f"{name}: not an executable (e_type {e_type}); link it as a static executable")
    _check_flags(e_flags, name)
    if e_entry & 3:
        raise ElfError(f"{name}: entry point {e_entry:#010x} is not 4-byte aligned (this machine has no C extension)")
    if e_phnum == 0:
        raise ElfError(f"{name}: no program headers: nothing to load")
    if e_phentsize < 32:
        raise ElfError(f"{name}: program header entries of {e_phentsize} bytes (ELF32 needs 32)")
    end = e_phoff + e_phnum * e_phentsize
    if end > len(image):
        raise ElfError(f"{name}: truncated: program headers end at byte {end}, the file has {len(image)}")
    segments, indices = [], []
    for index in range(e_phnum):
        p_type, p_offset, _, p_paddr, p_filesz, p_memsz, _, _ = struct.unpack_from(
            "<IIIIIIII", image, e_phoff + index * e_phentsize)
        if p_type != PT_LOAD or p_memsz == 0:
            continue
        if p_offset + p_filesz > len(image):
            raise ElfError(f"{name}: truncated: segment {index} needs bytes {p_offset}..{p_offset + p_filesz}, "
                           f"the file has {len(image)}")
        if p_filesz > p_memsz:
            raise ElfError(f"{name}: segment {index} has more file bytes ({p_filesz}) than memory ({p_memsz})")
        segments.append(Segment(p_paddr, image[p_offset:p_offset + p_filesz], p_memsz))
        indices.append(index)
    if not segments:
        raise ElfError(f"{name}: no loadable segment")
    _check_apart(segments, indices, name)
    if not any(s.address <= e_entry < s.address + s.memsize for s in segments):
        raise ElfError(f"{name}: entry point {e_entry:#010x} lies in no loaded segment")
    return Program(e_entry, segments)


def _check_apart(segments: list[Segment], indices: list[int], name: str) -> None:
    """Loadable segments may not overlap: which one's bytes a shared address
    holds would depend on the order of the program headers (QEMU refuses
    such a file too: "Some ROM regions are overlapping")."""
    placed = sorted(zip(segments, indices), key=lambda pair: pair[0].address)
    for (low, i), (high, j) in zip(placed, placed[1:]):
        if high.address < low.address + low.memsize:
            raise ElfError(f"{name}: segments {i} [{low.address:#010x}, {low.address + low.memsize:#010x}) and {j} "
                           f"[{high.address:#010x}, {high.address + high.memsize:#010x}) overlap")


def _check_flags(e_flags: int, name: str) -> None:
    """Refuse code built for extensions or an ABI this machine lacks: the
    first such instruction would trap, far from the cause."""
    if e_flags & EF_RISCV_RVC:
        raise ElfError(f"{name}: built for the compressed extension (e_flags {e_flags:#x} has RVC); this machine "
                       "runs RV32IM without C: build with -march=rv32im")
    if e_flags & EF_RISCV_RVE:
        raise ElfError(f"{name}: built for RV32E (e_flags {e_flags:#x}); this machine runs RV32I with 32 registers")
    if e_flags & EF_RISCV_FLOAT_ABI:
        raise ElfError(f"{name}: built for a hardware floating-point ABI (e_flags {e_flags:#x}); this machine has "
                       "no F or D: build with -mabi=ilp32")


def check_fits(program: Program, ram_base: int, ram_size: int, name: str = "ELF file") -> None:
    """Raise ``ElfError`` unless every segment of ``program`` lies in RAM
    ``[ram_base, ram_base + ram_size)``."""
    for index, segment in enumerate(program.segments):
        end = segment.address + segment.memsize
        if not (ram_base <= segment.address and end <= ram_base + ram_size):
            raise ElfError(f"{name}: segment {index} [{segment.address:#010x}, {end:#010x}) lies outside RAM "
                           f"[{ram_base:#010x}, {ram_base + ram_size:#010x}) ({ram_size >> 20} MiB)")
