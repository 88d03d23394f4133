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
    if len(image) < 16 or image[:4] != b"\x7fELF":
        raise ElfError(f"{name}: not an ELF file (starts with {image[:4]!r})")
    if image[4] == 2:
        raise ElfError(f"{name}: a 64-bit ELF file; this machine runs RV32 (32-bit) programs only")
    if image[4] != 1:
        raise ElfError(f"{name}: unknown ELF class {image[4]}")
    if image[5] != 1:
        raise ElfError(f"{name}: big-endian ELF file; RISC-V programs are little-endian")
    if len(image) < 52:
        raise ElfError(f"{name}: truncated: {len(image)} bytes, shorter than an ELF32 header (52)")
    (e_type, e_machine, _, e_entry, e_phoff, _, _, _, e_phentsize, e_phnum, _, _, _) = struct.unpack_from(
        "<HHIIIIIHHHHHH", image, 16)
    if e_machine != EM_RISCV:
        other = _MACHINES.get(e_machine, f"machine {e_machine}")
        raise ElfError(f"{name}: an ELF file for {other}, not RISC-V (e_machine {e_machine}, expected {EM_RISCV})")
    if e_type != ET_EXEC:
        raise ElfError(f"{name}: not an executable (e_type {e_type}); link it as a static executable")
    if e_phnum == 0:
        raise ElfError(f"{name}: no program headers: nothing to load")
    if e_phentsize < 32:
        raise ElfError(f"{name}: program header entries of {e_phentsize} bytes (ELF32 needs 32)")
    end = e_phoff + e_phnum * e_phentsize
    if end > len(image):
        raise ElfError(f"{name}: truncated: program headers end at byte {end}, the file has {len(image)}")
    segments = []
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
    if not segments:
        raise ElfError(f"{name}: no loadable segment")
    if not any(s.address <= e_entry < s.address + s.memsize for s in segments):
        raise ElfError(f"{name}: entry point {e_entry:#010x} lies in no loaded segment")
    return Program(e_entry, segments)
