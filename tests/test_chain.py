"""Three actors in three processes: 10,000 messages, some as 64 KiB bulk
frames, over ipc and over tcp; contents, order and digests checked."""

from __future__ import annotations

import logging
import socket

import pytest

from launch import launch, load

from .conftest import need_host


def chain(transport: str, count: int = 10_000, endpoints: dict[str, str] | None = None):
    topology = load("chain")
    topology.run.transport = transport
    for actor in topology.actor:
        if actor.name == "source":
            actor.params["count"] = count
        actor.endpoint = (endpoints or {}).get(actor.name, actor.endpoint)
    return launch(topology, log_level=logging.WARNING)


@pytest.mark.parametrize("transport", ["ipc", "tcp"])
def test_chain_delivers_every_item_in_order(transport: str) -> None:
    result = chain(transport)
    assert result.code == 0, result.reason
    assert result.finished_by == "sink"
    assert result.report["items"] == 10_000
    assert result.report["bulk_items"] == 100  # every 100th item travelled as its own frame
    stats = result.stats
    assert stats["source"].sent == 10_001  # items and Done
    assert stats["relay"].received == stats["relay"].sent == 10_001
    assert stats["sink"].received == 10_001
    for name, s in stats.items():
        assert (s.duplicates, s.gaps, s.malformed, s.unhandled) == (0, 0, {}, {}), name


def test_digests_repeat_across_runs_and_transports_and_see_a_difference() -> None:
    ipc, tcp, shorter = chain("ipc", 3000), chain("tcp", 3000), chain("ipc", 2999)
    assert all(r.code == 0 for r in (ipc, tcp, shorter))
    digests = {name: s.digest for name, s in ipc.stats.items()}
    # The same messages cut into the same frames, whatever carried them...
    assert digests == {name: s.digest for name, s in tcp.stats.items()}
    # ...and one message fewer changes every actor's digest.
    assert all(digests[name] != s.digest for name, s in shorter.stats.items())


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_an_actor_may_listen_on_an_ipv6_address() -> None:
    """ZeroMQ takes IPv6 endpoints only on sockets told to: the relay's
    inbox on [::1], its peers connecting there, and the others on IPv4."""
    need_host(_ipv6_loopback(), "an IPv6 loopback (::1)")
    result = chain("tcp", 1000, {"relay": "tcp://[::1]:0"})
    assert result.code == 0, result.reason
    assert result.report["items"] == 1000
