"""Guest programs: the bundled ones (built from ``guests/`` and shipped in
the package, so a fresh install runs them without a cross toolchain) or any
RV32 ELF file."""

from __future__ import annotations

import os
import stat
from importlib import resources
from pathlib import Path

from actors.cpu import ElfError, parse
from actors.cpu.bus import MAX_RAM_MIB, RAM_BASE
from actors.cpu.elf import check_fits

FOLDER = "guests"


class GuestError(Exception):
    """A guest that cannot be found or cannot run; the message says why."""


def bundled_names() -> list[str]:
    folder = resources.files("launch") / FOLDER
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".elf"))


def load(name_or_path: str, ram_mib: int = 16) -> tuple[str, bytes]:
    """(name, ELF image) of a guest given by path or bundled name; the image
    is checked to be an RV32 executable that fits in ``ram_mib`` MiB of RAM."""
    path = Path(name_or_path)
    # A bare name is a bundled guest if there is one (a folder of that name
    # here does not hide it), else a file here.
    as_path = "/" in name_or_path or name_or_path.endswith(".elf")
    bundled = resources.files("launch") / FOLDER / f"{name_or_path}.elf"
    try:
        if not as_path and bundled.is_file():
            image, name = bundled.read_bytes(), name_or_path
        elif as_path or path.exists():
            image, name = _read_program(path), path.stem
        else:
            raise GuestError(f"{name_or_path}: no such file, and no bundled guest of that name "
                             f"(bundled: {', '.join(bundled_names())})")
    except OSError as e:  # (a name too long for the file system, say)
        raise GuestError(f"{name_or_path}: cannot read: {e.strerror}") from None
    try:
        check_fits(parse(image, name_or_path), RAM_BASE, ram_mib << 20, name_or_path)
    except ElfError as e:
        raise GuestError(str(e)) from None
    return name, image


def _read_program(path: Path) -> bytes:
    """The file's bytes, unless it cannot be a program: not a regular file
    (/dev/zero would be read for ever), or larger than the largest RAM."""
    info = os.stat(path)  # before opening: opening a named pipe waits for a writer
    if not stat.S_ISREG(info.st_mode):
        raise GuestError(f"{path}: not a regular file")
    with open(path, "rb") as f:
        if info.st_size > MAX_RAM_MIB << 20:
            raise GuestError(f"{path}: {info.st_size} bytes, larger than any program this machine loads "
                             f"(RAM is at most {MAX_RAM_MIB} MiB)")
        return f.read()
