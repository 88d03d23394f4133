"""Compiled regions kept on disk from run to run, as Python keeps .pyc files.

Compiling a region (``actors.cpu.translate``) costs 0.5-4 ms of Python's
``compile``; a run of ``diskqd1`` (2000 reads) compiled for about 34 ms,
16 us per read, and ``bench`` for about 0.3 s of its 3 s. Yet the same
guest translates to the same regions run after run (a fault campaign, a
record and its replays, a benchmark's rounds). A region's code is a pure
function of its key: the translator's own source, the RAM size and the
region's instructions (``region_key``); so a cached code object is exactly
what compiling again would give, and nothing guest-visible depends on
whether it came from the cache.

Each entry is one file named by its key: a SHA-256 of the marshalled code,
then the code. A file that does not match its checksum (a disk that lost
bits) is a miss and is deleted; the cache never fails a run: any error
reading or writing it is a miss. Files are written under a temporary name
and renamed, so concurrent writers of one key leave one whole file, and a
killed writer leaves none (its temporary file goes at a later prune). Past MAX_ENTRIES
files, the older half (by when they were written) goes.

``REEL_CODE_CACHE`` names the folder; ``off`` turns the cache off. By
default it is ``$XDG_CACHE_HOME/reel/code`` (``~/.cache/reel/code``; none
without a home folder).
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
import tempfile
import time
from pathlib import Path
from types import CodeType
from typing import Sequence

CODE_CACHE_ENV = "REEL_CODE_CACHE"

MAX_ENTRIES = 8192
"""Most files the cache keeps (a region's file is 2-40 KB)."""

PRUNE_EVERY = 64
"""How many stores between two counts of the folder's files."""

TEMPORARY = ".new-"
"""How a file being written is named until it is whole."""

ABANDONED_SECONDS = 3600.0
"""A temporary file this old was left by a writer that died."""

_SUM = 32  # bytes of SHA-256 before the code


def _generator_id() -> bytes:
    """What the code of a region depends on besides the region: the source
    of the modules that write it, and the Python that compiles it."""
    h = hashlib.sha256(importlib.util.MAGIC_NUMBER)
    here = Path(__file__).parent
    try:
        for name in ("translate.py", "semantics.py", "isa.py", "hart.py"):
            h.update((here / name).read_bytes())
    except OSError:
        return os.urandom(32)  # installed without its sources: an id no other run shares, so never a stale hit
    return h.digest()


GENERATOR = _generator_id()


def region_key(ram_size: int, region: Sequence[tuple[Sequence[tuple[int, object, int]], int | None]]) -> str:
    """The key of a region's code: every label's instructions (pc, word),
    where its block falls through to, and the RAM size (it is in the code)."""
    h = hashlib.sha256(GENERATOR)
    h.update(repr((ram_size, [([(pc, word) for pc, _, word in insns], fallthrough)
                              for insns, fallthrough in region])).encode())
    return h.hexdigest()


class CodeCache:
    """A folder of compiled regions, by key."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.hits = 0
        self.misses = 0
        self.stores = 0
        self.usable = True  # False after the folder could not be made: no more tries

    @classmethod
    def default(cls) -> CodeCache | None:
        """The cache ``REEL_CODE_CACHE`` names (None if it says ``off``),
        by default in the user's cache folder."""
        chosen = os.environ.get(CODE_CACHE_ENV)
        if chosen == "off":
            return None
        if chosen:
            return cls(chosen)
        base = os.environ.get("XDG_CACHE_HOME")
        if not base:
            home = os.path.expanduser("~")
            if home.startswith("~"):
                return None  # no home to keep it in (and not a folder named "~" wherever this runs)
            base = os.path.join(home, ".cache")
        return cls(os.path.join(base, "reel", "code"))

    def load(self, key: str) -> CodeType | None:
        path = os.path.join(self.folder, key)
        try:
            with open(path, "rb") as f:
                data = f.read()
            if hashlib.sha256(data[_SUM:]).digest() != data[:_SUM]:
                raise ValueError("checksum")
            code = marshal.loads(data[_SUM:])
            if not isinstance(code, CodeType):
                raise ValueError("not code")
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, ValueError, EOFError, TypeError):
            self.misses += 1
            _unlink(path)  # damaged: compiled again and stored anew
            return None
        self.hits += 1
        return code

    def store(self, key: str, code: CodeType) -> None:
        if not self.usable:
            return
        payload = marshal.dumps(code)
        try:
            os.makedirs(self.folder, mode=0o700, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.folder, prefix=TEMPORARY)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(hashlib.sha256(payload).digest() + payload)
                os.replace(temporary, os.path.join(self.folder, key))
            except BaseException:
                _unlink(temporary)
                raise
        except OSError:
            self.usable = False  # read-only, full, not ours: run on without it
            return
        self.stores += 1
        if self.stores % PRUNE_EVERY == 0:
            self.prune()

    def prune(self) -> None:
        """Past MAX_ENTRIES files, delete the older half; and files a
        killed writer left under their temporary name (an hour old)."""
        try:
            files = [e for e in os.scandir(self.folder) if e.is_file()]
            entries = [e for e in files if not e.name.startswith(".")]
            abandoned = [e for e in files if e.name.startswith(TEMPORARY)
                         and e.stat().st_mtime < time.time() - ABANDONED_SECONDS]
            entries.sort(key=lambda e: e.stat().st_mtime)
        except OSError:
            return
        for entry in abandoned + entries[:len(entries) // 2 if len(entries) > MAX_ENTRIES else 0]:
            _unlink(entry.path)

    def report(self) -> dict[str, object]:
        """Where a run's compiled regions came from: how many the cache had."""
        return {"folder": self.folder, "hits": self.hits, "misses": self.misses}


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass

