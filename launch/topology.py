"""Topologies: which actors run, with which implementation, where, linked how.

A topology is a TOML file or the same structs built in Python::

    name = "chain"
    faults = ["link:source->relay:delay:fixed:1ms"]   # optional: the fault plan (launch.faults grammar)
    [run]
    transport = "ipc"          # "ipc" on one host, "tcp" (CURVE-authenticated)
    liveness = 3.0             # seconds of silence before a peer counts as lost
    seed = 0                   # every random choice of the fault plan is drawn from it
    spin_us = 0                # a busy blocking actor waits this long awake before it sleeps (0: never)

    [[actor]]
    name = "source"
    impl = "actors.examples.chain:Source"   # module path : Actor subclass
    params = { count = 10000 }              # checked against the class's Params
    cpu = 0                                 # optional: pin to a core
    # endpoint = "tcp://127.0.0.1:5555"     # optional: else the launcher assigns one (IPv6: "tcp://[::1]:5555")

    [[link]]
    between = ["source", "relay"]
    digest = true              # false: this link's order is not deterministic

``load`` and ``validate`` raise ``TopologyError`` naming the file, the key
and what is wrong.
"""

from __future__ import annotations

import os
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import msgspec

from actors._node import LAUNCHER, ipc_path_taken
from actors._spin import MAX_SPIN_SECONDS

BUNDLED = "topologies"
"""Package folder (in ``launch``) of the topologies that ship with reel."""


class TopologyError(Exception):
    """A topology that cannot run: ``where`` is ``file: key``."""

    def __init__(self, origin: str, key: str, what: str) -> None:
        self.origin, self.key, self.what = origin, key, what
        super().__init__(f"{origin}: {key}: {what}" if key else f"{origin}: {what}")


class RunConfig(msgspec.Struct, forbid_unknown_fields=True):
    transport: Literal["ipc", "tcp"] = "ipc"
    liveness: float = 3.0
    startup_timeout: float = 30.0
    seed: int = 0  # the fault plan's random choices
    spin_us: int = 0  # how long a busy blocking actor waits awake for its next frame (actors._spin)


class ActorConfig(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    impl: str
    params: dict[str, Any] = {}
    host: str = "localhost"
    cpu: int | None = None
    # The core of the actor's ZeroMQ I/O thread, which writes what it sends
    # to the socket. Another core than ``cpu``'s spares each send a switch
    # to that thread and back (bench disk: QD1 reads 313 against 334 us).
    io_cpu: int | None = None
    endpoint: str | None = None


class LinkConfig(msgspec.Struct, forbid_unknown_fields=True):
    between: tuple[str, str]
    digest: bool = True


class Topology(msgspec.Struct, forbid_unknown_fields=True):
    actor: list[ActorConfig]
    link: list[LinkConfig] = []
    name: str = ""
    run: RunConfig = msgspec.field(default_factory=RunConfig)
    faults: list[str] = []  # the fault plan: one spec each (launch.faults)

    def peers_of(self, name: str) -> list[tuple[str, bool]]:
        """``(peer, digest)`` for every link of actor ``name``, in file order."""
        out = []
        for link in self.link:
            a, b = link.between
            if a == name:
                out.append((b, link.digest))
            elif b == name:
                out.append((a, link.digest))
        return out

    def actor_named(self, name: str) -> ActorConfig:
        for actor in self.actor:
            if actor.name == name:
                return actor
        raise KeyError(name)


_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def bundled_names() -> list[str]:
    folder = resources.files("launch") / BUNDLED
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


MAX_FILE_BYTES = 1 << 20
"""The longest topology file read (the bundled ones are about 1 KB)."""


def resolve(path_or_name: str) -> tuple[str, bytes]:
    """A file path, or the name of a bundled topology; (origin, content)."""
    path = Path(path_or_name)
    if path.exists() or os.sep in path_or_name or path_or_name.endswith(".toml"):
        try:
            with open(path, "rb") as f:  # (a pipe is fine: reel launch <(make-topology))
                content = f.read(MAX_FILE_BYTES + 1)
        except OSError as e:
            raise TopologyError(str(path), "", f"cannot read: {e.strerror}") from None
        if len(content) > MAX_FILE_BYTES:  # /dev/zero, a log named by mistake: not read to the end
            raise TopologyError(str(path), "", f"longer than {MAX_FILE_BYTES >> 20} MiB: not a topology file")
        return str(path), content
    bundled = resources.files("launch") / BUNDLED / f"{path_or_name}.toml"
    if bundled.is_file():
        return f"{path_or_name} (bundled)", bundled.read_bytes()
    raise TopologyError(
        path_or_name, "", f"no such file, and no bundled topology of that name (bundled: {', '.join(bundled_names())})"
    )


def load(path_or_name: str) -> Topology:
    origin, content = resolve(path_or_name)
    return parse(content, origin)


def parse(content: bytes | str, origin: str = "<topology>") -> Topology:
    try:
        text = content.decode() if isinstance(content, bytes) else content
    except UnicodeDecodeError as e:
        raise TopologyError(origin, "", f"not UTF-8 text (byte {e.start}: {content[e.start:e.start + 1]!r}); "
                                        "a topology file is TOML") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise TopologyError(origin, "", f"not valid TOML: {e}") from None
    try:
        topology = msgspec.convert(raw, Topology)
    except msgspec.ValidationError as e:
        raise _convert_error(origin, raw, e) from None
    validate(topology, origin)
    return topology


def _convert_error(origin: str, raw: dict[str, Any], e: msgspec.ValidationError) -> TopologyError:
    """Turn msgspec's ``... - at `$.actor[1].cpu``` into file + key."""
    text = str(e)
    what, sep, path = text.rpartition(" - at `")
    if not sep:
        return TopologyError(origin, "", text)
    key = path.rstrip("`").removeprefix("$").lstrip(".")
    return TopologyError(origin, _named_key(raw, key), what)


def _named_key(raw: dict[str, Any], key: str) -> str:
    """``actor[1].cpu`` -> ``actor[1] ("relay").cpu`` when the name is known."""
    m = re.match(r"^(actor)\[(\d+)\](.*)$", key)
    if m:
        try:
            name = raw["actor"][int(m.group(2))]["name"]
            return f'{m.group(1)}[{m.group(2)}] ("{name}"){m.group(3)}'
        except (KeyError, IndexError, TypeError):
            pass
    return key


MIN_LIVENESS, MAX_LIVENESS = 0.1, 86400.0
"""Bounds of a run's liveness (seconds): shorter is no time to answer a
heartbeat (actors look at their links every 20 ms at best, and a busy
2-core host gives each process slices of several ms: 0.01 failed some
runs of the bundled chain on an idle host); a day is as long as ZeroMQ's
timeouts, in milliseconds, hold."""


def _first_beyond_64_bits(value: Any, key: str) -> tuple[str, int] | None:
    """The key and value of the first integer in ``value`` that msgpack
    cannot carry, if any (the launcher would fail encoding an actor's spec,
    that actor half started)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (key, value) if not -(1 << 63) <= value < 1 << 64 else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for name, item in items:
        found = _first_beyond_64_bits(item, f"{key}[{name}]" if isinstance(name, int) else
                                      f"{key}.{name}" if key else str(name))
        if found is not None:
            return found
    return None


def _core_list(cores: set[int]) -> str:
    """``{0, 1, 2, 5}`` -> ``"0-2, 5"``."""
    runs: list[list[int]] = []
    for core in sorted(cores):
        if runs and core == runs[-1][1] + 1:
            runs[-1][1] = core
        else:
            runs.append([core, core])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)


def validate(topology: Topology, origin: str = "<topology>") -> None:
    """Every check that does not need a running process."""
    from actors._process import ImplementationError, load_implementation

    if not topology.actor:
        raise TopologyError(origin, "actor", "a topology needs at least one actor")
    if not MIN_LIVENESS <= topology.run.liveness <= MAX_LIVENESS:  # (NaN fails too)
        raise TopologyError(origin, "run.liveness", f"must be from {MIN_LIVENESS:g} to {MAX_LIVENESS:g} seconds, "
                                                    f"not {topology.run.liveness}")
    if not 0 < topology.run.startup_timeout <= MAX_LIVENESS:
        raise TopologyError(origin, "run.startup_timeout", f"must be from more than 0 to {MAX_LIVENESS:g} seconds, "
                                                           f"not {topology.run.startup_timeout}")
    if not 0 <= topology.run.spin_us <= MAX_SPIN_SECONDS * 1e6:
        raise TopologyError(origin, "run.spin_us",
                            f"must be within 0..{MAX_SPIN_SECONDS * 1e6:.0f} (microseconds), not {topology.run.spin_us}")
    as_builtins = msgspec.to_builtins(topology, builtin_types=(bytes,))  # (a guest image stays bytes, not base64)
    too_large = _first_beyond_64_bits(as_builtins, "")
    if too_large is not None:
        key, value = too_large
        raise TopologyError(origin, _named_key(as_builtins, key),
                            f"{value} is too large to travel in a message (integers from -2**63 to 2**64 - 1)")
    seen: dict[str, int] = {}
    endpoints: dict[str, str] = {}
    named: dict[int, dict[str, str]] = {}  # actor index -> the peers its params name
    ncpu = os.cpu_count() or 1
    allowed = os.sched_getaffinity(0)  # a cpuset (a container's, taskset's) may leave some out
    for i, actor in enumerate(topology.actor):
        key = f'actor[{i}] ("{actor.name}")'
        if not _NAME.match(actor.name):
            raise TopologyError(origin, f"actor[{i}].name",
                                f"{actor.name!r} is not a valid actor name (letter first, then letters, digits, _ or -)")
        if actor.name == LAUNCHER:
            raise TopologyError(origin, f"{key}.name", f"{LAUNCHER!r} is reserved for the launcher")
        if actor.name in seen:
            raise TopologyError(origin, f"{key}.name",
                                f"duplicate actor name {actor.name!r} (also actor[{seen[actor.name]}])")
        seen[actor.name] = i
        if actor.host not in _LOCAL_HOSTS:
            raise TopologyError(origin, f"{key}.host",
                                f"host {actor.host!r}: this launcher starts actors on this host only")
        for field, core in (("cpu", actor.cpu), ("io_cpu", actor.io_cpu)):
            if core is not None and not 0 <= core < ncpu:
                raise TopologyError(origin, f"{key}.{field}", f"no core {core} on this machine (cores 0-{ncpu - 1})")
            if core is not None and core not in allowed:
                raise TopologyError(origin, f"{key}.{field}", f"core {core} is not one this process may run on "
                                    f"(its affinity allows cores {_core_list(allowed)})")
        if actor.endpoint is not None:
            _check_endpoint(origin, f"{key}.endpoint", actor.endpoint, topology.run.transport)
            same = _same_place(actor.endpoint)
            if same in endpoints and not actor.endpoint.endswith(":0"):
                raise TopologyError(origin, f"{key}.endpoint",
                                    f"endpoint {actor.endpoint} clashes with actor {endpoints[same]!r}")
            endpoints[same] = actor.name
        try:
            cls = load_implementation(actor.impl)
        except ImplementationError as e:
            raise TopologyError(origin, f"{key}.impl", str(e)) from None
        try:
            params = msgspec.convert(actor.params, cls.Params)
        except msgspec.ValidationError as e:
            what, sep, path = str(e).rpartition(" - at `")
            sub = path.rstrip("`").removeprefix("$").lstrip(".") if sep else ""
            raise TopologyError(origin, f"{key}.params" + (f".{sub}" if sub else ""), what if sep else str(e)) from None
        named[i] = cls.peers_named(params)
    _validate_links(topology, origin, seen)
    for i, actor in enumerate(topology.actor):
        linked = [peer for peer, _ in topology.peers_of(actor.name)]
        for field, peer in named[i].items():
            if peer not in linked:
                raise TopologyError(origin, f'actor[{i}] ("{actor.name}").params.{field}',
                                    f"names {peer!r}, which is not linked to {actor.name!r} "
                                    f"(its links: {', '.join(linked) or 'none'})")
    _validate_faults(topology, origin)


def _validate_faults(topology: Topology, origin: str) -> None:
    from actors._process import load_implementation

    from .faults import FaultError, PlannedFault, for_run, one_at_a_time

    every: list[PlannedFault] = []
    for i, spec in enumerate(topology.faults):
        try:
            planned = for_run([spec], topology)[0]  # (one by one: an error names its place in the list)
        except FaultError as e:
            raise TopologyError(origin, f"faults[{i}]", str(e)) from None
        every.append(planned)
        if planned.params:
            fields = load_implementation(topology.actor_named(planned.actor).impl).Params.__struct_fields__
            missing = [name for name in planned.params if name not in fields]
            if missing:
                what = "a disk" if planned.disk >= 0 else "blkreplay"
                raise TopologyError(origin, f"faults[{i}]", f"fault {spec!r}: actor {planned.actor!r} is not {what} "
                                                            f"(its parameters take no {' or '.join(missing)})")
    try:
        one_at_a_time(every)  # together: two that set one thing (a link's delay...) conflict
    except FaultError as e:
        raise TopologyError(origin, "faults", str(e)) from None


def _validate_links(topology: Topology, origin: str, actors: dict[str, int]) -> None:
    pairs: dict[frozenset[str], int] = {}
    for i, link in enumerate(topology.link):
        a, b = link.between
        for end in (a, b):
            if end not in actors:
                raise TopologyError(origin, f"link[{i}].between",
                                    f"link to missing actor {end!r} (actors: {', '.join(actors)})")
        if a == b:
            raise TopologyError(origin, f"link[{i}].between", f"actor {a!r} linked to itself")
        pair = frozenset((a, b))
        if pair in pairs:
            raise TopologyError(origin, f"link[{i}].between", f"{a!r} and {b!r} are already linked by link[{pairs[pair]}]")
        pairs[pair] = i


def _check_endpoint(origin: str, key: str, endpoint: str, transport: str) -> None:
    scheme = endpoint.partition("://")[0]
    if scheme not in ("ipc", "tcp") or "://" not in endpoint:
        raise TopologyError(origin, key, f"{endpoint!r} is neither ipc://PATH nor tcp://HOST:PORT")
    if scheme != transport:
        raise TopologyError(origin, key, f"{endpoint!r} does not match run.transport = {transport!r}")
    if scheme == "tcp" and not re.match(r"^tcp://([^:/\[\]]+|\[[0-9A-Fa-f:.]+\]):\d+$", endpoint):
        raise TopologyError(origin, key, f"{endpoint!r} needs a host (an IPv6 address in brackets) and a numeric port")
    if scheme == "tcp" and int(endpoint.rpartition(":")[2]) > 65535:
        raise TopologyError(origin, key, f"{endpoint!r}: a port is at most 65535 (ZeroMQ would bind another)")
    if scheme == "ipc" and not endpoint[len("ipc://"):].strip():
        raise TopologyError(origin, key, f"{endpoint!r} needs a path")
    if scheme == "ipc":
        taken = ipc_path_taken(endpoint[len("ipc://"):])
        if taken:
            raise TopologyError(origin, key, f"{endpoint!r}: {taken}")


def _same_place(endpoint: str) -> str:
    """``endpoint`` with the names of this host's loopback written one way,
    so that two spellings of one socket clash."""
    return re.sub(r"^tcp://(localhost|127\.0\.0\.1):", "tcp://127.0.0.1:", endpoint)
