"""Topologies of the emulated machine, built in code for ``reel run``."""

from __future__ import annotations

from .topology import ActorConfig, RunConfig, Topology


def cpu_only(name: str, image: bytes, ram_mib: int = 16, max_instructions: int = 0,
             poll_every: int = 65536, cpu: int | None = None, console: str = "stdout") -> Topology:
    """A machine with no disk: the cpu actor alone runs the guest."""
    params = {"elf": image, "name": name, "ram_mib": ram_mib, "max_instructions": max_instructions,
              "poll_every": poll_every, "console": console}
    return Topology(name=f"run {name}", run=RunConfig(),
                    actor=[ActorConfig("cpu", "actors.cpu:Cpu", params, cpu=cpu)])
