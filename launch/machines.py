"""Topologies of the emulated machine, built in code for ``reel run``."""

from __future__ import annotations

from typing import Any

from .disks import MAX_DISKS, Disk, DiskError
from .topology import ActorConfig, LinkConfig, RunConfig, Topology


def cpu_only(name: str, image: bytes, ram_mib: int = 16, max_instructions: int = 0,
             poll_every: int = 65536, cpu: int | None = None, console: str = "stdout") -> Topology:
    """A machine with no disk: the cpu actor alone runs the guest."""
    params = {"elf": image, "name": name, "ram_mib": ram_mib, "max_instructions": max_instructions,
              "poll_every": poll_every, "console": console}
    return Topology(name=f"run {name}", run=RunConfig(),
                    actor=[ActorConfig("cpu", "actors.cpu:Cpu", params, cpu=cpu)])


def _at(pins: dict[str, int], role: str) -> dict[str, Any]:
    """Where an actor of ``role`` runs: ``pins[role]``, its core, and
    ``pins[role + "-io"]``, its ZeroMQ I/O thread's (None: unpinned)."""
    return {"cpu": pins.get(role), "io_cpu": pins.get(f"{role}-io")}


def ide_direct(name: str, image: bytes, disks: list[Disk], ram_mib: int = 16, max_instructions: int = 0,
               poll_every: int = 65536, latency: str = "none", seed: int = 0, console: str = "stdout",
               cpus: dict[str, int] | None = None, faults: list[str] | None = None) -> Topology:
    """cpu -> ide -> one image actor per disk, no blkreplay: completions
    reach the guest as soon as they come (the non-deterministic baseline).
    A large DMA read's data goes from the disk straight to the cpu, one hop
    from guest memory instead of two (``Ide.Params.direct_reads``).
    Disks attach in order to channel 0 master, channel 1 master, channel 0
    slave, channel 1 slave. Disk i draws its latency from seed + i.
    ``faults``: the fault plan (``launch.faults`` specs; the launcher
    applies it, drawing from ``seed``)."""
    if not 1 <= len(disks) <= MAX_DISKS:
        raise DiskError(f"{len(disks)} disks: the IDE controller takes 1 to {MAX_DISKS}")
    pins = cpus or {}
    cpu = {"elf": image, "name": name, "ram_mib": ram_mib, "max_instructions": max_instructions,
           "poll_every": poll_every, "console": console, "ide": "ide", "drain_disks": True}
    slots = [{"peer": f"disk{i}", "sectors": d.sectors, "serial": f"REEL{i:04d}"} for i, d in enumerate(disks)]
    actors = [ActorConfig("cpu", "actors.cpu:Cpu", cpu, **_at(pins, "cpu")),
              ActorConfig("ide", "actors.ide:Ide", {"cpu": "cpu", "disks": slots, "direct_reads": True},
                          **_at(pins, "ide"))]
    links = [LinkConfig(("cpu", "ide"))]
    for i, disk in enumerate(disks):
        params = {"backend": disk.backend, "latency": latency, "seed": seed + i}
        params.update({"path": disk.path} if disk.backend == "raw" else {"size": disk.size})
        actors.append(ActorConfig(f"disk{i}", "actors.image:Image", params, **_at(pins, "disk")))
        links.append(LinkConfig(("ide", f"disk{i}"), digest=False))  # completion order is the host's
        links.append(LinkConfig((f"disk{i}", "cpu"), digest=False))  # large reads' data goes there (direct_reads)
    return Topology(name=f"run {name}", run=RunConfig(seed=seed), actor=actors, link=links, faults=list(faults or []))


def ide_blkreplay(mode: str, name: str, image: bytes, disks: list[Disk], log: str, header: dict | None = None,
                  ram_mib: int = 16, latency: str = "none", seed: int = 0, poll_every: int = 65536,
                  console: str = "stdout", base_digests: list[str] | None = None, wait_bound: float = 10.0,
                  digest_every: int = 64, faults: list[str] | None = None,
                  cpus: dict[str, int] | None = None) -> Topology:
    """cpu -> ide -> blkreplay -> one image actor per disk, with the logger
    recording (``mode`` "record") or prescribing ("replay"). ``disks`` are
    the working copies the run may write (or, given ``base_digests``, the
    base files memory disks load, which must hold content of those
    digests); ``faults`` the fault plan (specs, drawn from ``seed`` by the
    launcher). The logger's links, and those that carry the host's timing
    (disk completions, EventsPending), are not digested."""
    if not 1 <= len(disks) <= MAX_DISKS:
        raise DiskError(f"{len(disks)} disks: the IDE controller takes 1 to {MAX_DISKS}")
    pins = cpus or {}
    images = [f"disk{i}" for i in range(len(disks))]
    cpu = {"elf": image, "name": name, "ram_mib": ram_mib, "poll_every": poll_every, "console": console,
           "ide": "ide", "drain_disks": True, "mode": mode, "logger": "logger", "digest_every": digest_every}
    slots = [{"peer": "blkreplay", "sectors": d.sectors, "serial": f"REEL{i:04d}"} for i, d in enumerate(disks)]
    actors = [
        ActorConfig("cpu", "actors.cpu:Cpu", cpu, **_at(pins, "cpu")),
        ActorConfig("ide", "actors.ide:Ide", {"cpu": "cpu", "disks": slots, "blkreplay": "blkreplay",
                                              "logger": "logger"}, **_at(pins, "ide")),
        ActorConfig("blkreplay", "actors.blkreplay:BlkReplay",
                    {"mode": mode, "disks": images, "wait_bound": wait_bound, "digest_every": digest_every},
                    **_at(pins, "blkreplay")),
        ActorConfig("logger", "actors.logger:Logger",
                    {"mode": mode, "path": log, "header": header or {}, "disks": images, "digest_every": digest_every},
                    **_at(pins, "logger")),
    ]
    links = [LinkConfig(("cpu", "ide")), LinkConfig(("ide", "blkreplay")),
             LinkConfig(("cpu", "blkreplay"), digest=False)]
    links += [LinkConfig((actor, "logger"), digest=False) for actor in ("cpu", "ide", "blkreplay")]
    for i, disk in enumerate(disks):
        params = {"backend": "memory", "base": disk.path, "base_digest": base_digests[i], "latency": latency,
                  "seed": seed + i} if base_digests is not None \
            else {"backend": disk.backend, "latency": latency, "seed": seed + i,
                  **({"path": disk.path} if disk.backend == "raw" else {"size": disk.size})}
        actors.append(ActorConfig(images[i], "actors.image:Image", params, **_at(pins, "disk")))
        links += [LinkConfig(("blkreplay", images[i]), digest=False), LinkConfig(("logger", images[i]), digest=False)]
    return Topology(name=f"{mode} {name}", run=RunConfig(seed=seed), actor=actors, link=links,
                    faults=list(faults or []))
