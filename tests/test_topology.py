"""Bad topology files: each refused with an error naming the file, the key
and what is wrong; nothing is started."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from launch import ActorConfig, LinkConfig, Topology, TopologyError, parse, validate

from .conftest import need_host, need_tool, run_reel

GOOD_ACTORS = """
[[actor]]
name = "a"
impl = "actors.examples.echo:Idle"

[[actor]]
name = "b"
impl = "actors.examples.echo:Idle"
"""

BAD = {
    "unknown-module": ('[[actor]]\nname = "a"\nimpl = "actors.nowhere:Thing"\n',
                       'actor[0] ("a").impl', "cannot import module 'actors.nowhere'"),
    "unknown-class": ('[[actor]]\nname = "a"\nimpl = "actors.examples.echo:Nope"\n',
                      'actor[0] ("a").impl', "has no 'Nope'"),
    "not-an-actor": ('[[actor]]\nname = "a"\nimpl = "launch.topology:Topology"\n',
                     'actor[0] ("a").impl', "is not an Actor subclass"),
    "raises-on-import": ('[[actor]]\nname = "a"\nimpl = "tests.raises_on_import:Thing"\n', 'actor[0] ("a").impl',
                         "importing module 'tests.raises_on_import' raised RuntimeError: this component cannot be "
                         "imported ("),
    "abstract": ('[[actor]]\nname = "a"\nimpl = "actors:Actor"\n', 'actor[0] ("a").impl',
                 "is abstract (it does not define run): subclass BlockingActor or AsyncActor"),
    "params-name-an-unlinked-peer": ('[[actor]]\nname = "s"\nimpl = "actors.examples.chain:Source"\n'
                                     'params = { to = "nobody" }\n[[actor]]\nname = "relay"\n'
                                     'impl = "actors.examples.chain:Relay"\nparams = { to = "s" }\n'
                                     '[[link]]\nbetween = ["s", "relay"]\n', 'actor[0] ("s").params.to',
                                     "names 'nobody', which is not linked to 's' (its links: relay)"),
    "missing-peer": (GOOD_ACTORS + '[[link]]\nbetween = ["a", "zed"]\n',
                     "link[0].between", "link to missing actor 'zed'"),
    "endpoint-clash": (GOOD_ACTORS.replace('Idle"\n', 'Idle"\nendpoint = "ipc:///tmp/reel-clash"\n'),
                       'actor[1] ("b").endpoint', "clashes with actor 'a'"),
    "duplicate-name": (GOOD_ACTORS.replace('name = "b"', 'name = "a"'),
                       'actor[1] ("a").name', "duplicate actor name 'a'"),
    "wrong-type": (GOOD_ACTORS.replace('name = "b"', 'name = "b"\ncpu = "one"'),
                   'actor[1] ("b").cpu', "Expected `int | null`, got `str`"),
    "unknown-key": (GOOD_ACTORS.replace('name = "b"', 'name = "b"\nhots = "x"'),
                    'actor[1] ("b")', "unknown field `hots`"),
    "bad-param": ('[[actor]]\nname = "s"\nimpl = "actors.examples.chain:Source"\nparams = { count = "many" }\n',
                  'actor[0] ("s").params.count', "Expected `int`, got `str`"),
    "reserved-name": ('[[actor]]\nname = "launcher"\nimpl = "actors.examples.echo:Idle"\n',
                      'actor[0] ("launcher").name', "reserved for the launcher"),
    "self-link": (GOOD_ACTORS + '[[link]]\nbetween = ["a", "a"]\n', "link[0].between", "linked to itself"),
    "not-toml": ('[[actor]\nname = "a"\n', "", "not valid TOML"),
    "no-actors": ('name = "empty"\n', "", "Object missing required field `actor`"),
    "bad-liveness": (GOOD_ACTORS + "[run]\nliveness = -1\n", "run.liveness", "must be from 0.1 to 86400 seconds"),
    "infinite-liveness": (GOOD_ACTORS + "[run]\nliveness = inf\n", "run.liveness", "not inf"),
    "nan-liveness": (GOOD_ACTORS + "[run]\nliveness = nan\n", "run.liveness", "not nan"),
    "tiny-liveness": (GOOD_ACTORS + "[run]\nliveness = 0.05\n", "run.liveness", "must be from 0.1"),
    "bad-startup": (GOOD_ACTORS + "[run]\nstartup_timeout = -1.0\n", "run.startup_timeout", "not -1.0"),
    "bad-spin": (GOOD_ACTORS + "[run]\nspin_us = 500000\n", "run.spin_us", "must be within 0..100000"),
    "not-utf8": (b'name = "caf\xe9"\n', "", "not UTF-8 text (byte 11: b'\\xe9')"),
    "endpoint-clash-loopback": ("[run]\ntransport = \"tcp\"\n" + GOOD_ACTORS.replace(
        'Idle"\n', 'Idle"\nendpoint = "tcp://127.0.0.1:5599"\n', 1).replace(
        'Idle"\n\n', 'Idle"\n\n', 1) + 'endpoint = "tcp://localhost:5599"\n',
        'actor[1] ("b").endpoint', "clashes with actor 'a'"),
    "port-too-large": ('[run]\ntransport = "tcp"\n' + GOOD_ACTORS.replace(
        'Idle"\n', 'Idle"\nendpoint = "tcp://127.0.0.1:99999"\n', 1), 'actor[0] ("a").endpoint', "at most 65535"),
    "negative-disk": ('[[actor]]\nname = "ide"\nimpl = "actors.ide:Ide"\n'
                      'params = { disks = [{ peer = "disk0", sectors = -5 }] }\n',
                      'actor[0] ("ide").params.disks[0].sectors', "Expected `int` >= 1"),
    "ipv6-without-brackets": ('[run]\ntransport = "tcp"\n' + GOOD_ACTORS.replace(
        'Idle"\n', 'Idle"\nendpoint = "tcp://::1:5599"\n', 1), 'actor[0] ("a").endpoint',
        "needs a host (an IPv6 address in brackets) and a numeric port"),
    "io-cpu-out-of-range": (GOOD_ACTORS.replace('name = "b"', 'name = "b"\nio_cpu = 4096'),
                            'actor[1] ("b").io_cpu', "no core 4096 on this machine"),
    "param-beyond-64-bits": ('[[actor]]\nname = "s"\nimpl = "actors.examples.chain:Source"\n'
                             'params = { count = 99999999999999999999999 }\n', 'actor[0] ("s").params.count',
                             "99999999999999999999999 is too large to travel in a message"),
    "ipc-without-path": (GOOD_ACTORS.replace('Idle"\n', 'Idle"\nendpoint = "ipc://"\n', 1),
                         'actor[0] ("a").endpoint', "'ipc://' needs a path"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_topology_file_is_refused_naming_file_key_and_fault(case: str, tmp_path: Path) -> None:
    text, key, what = BAD[case]
    path = tmp_path / f"{case}.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    result = run_reel("launch", str(path))
    assert result.returncode == 2, result.stderr
    first = result.stderr.strip().splitlines()[0]
    assert first.startswith(f"reel: {path}: "), first
    assert key in first and what in first, first


def test_a_core_outside_the_affinity_is_refused(tmp_path: Path) -> None:
    """A container's cpuset (or taskset) may leave out a core the machine
    has: pinning there killed the actor (sched_setaffinity's EINVAL, or
    libzmq's abort for its I/O thread) after the run had started."""
    need_host((os.cpu_count() or 1) >= 2, "a second core")
    path = tmp_path / "pinned.toml"
    for field in ("cpu", "io_cpu"):
        path.write_text(GOOD_ACTORS.replace('name = "b"', f'name = "b"\n{field} = 1'))
        result = run_reel("launch", str(path), under=(need_tool("taskset"), "-c", "0"))
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip() == (f'reel: {path}: actor[1] ("b").{field}: core 1 is not one this process may '
                                         "run on (its affinity allows cores 0)")


def test_missing_file_and_unknown_bundled_name() -> None:
    result = run_reel("launch", "no-such-topology")
    assert result.returncode == 2
    assert "no such file, and no bundled topology of that name" in result.stderr
    assert "chain" in result.stderr  # says what is bundled


def test_an_endless_file_is_refused_and_a_pipe_is_read() -> None:
    """``reel launch /dev/zero`` read until the host ran out of memory (the
    kernel killed it); a pipe, as from ``<(make-topology)``, still works."""
    result = run_reel("launch", "/dev/zero", timeout=30)
    assert result.returncode == 2, result.stderr
    assert "reel: /dev/zero: longer than 1 MiB: not a topology file" in result.stderr, result.stderr
    chain = (Path(__file__).parent.parent / "launch" / "topologies" / "chain.toml").read_bytes()
    read, write = os.pipe()
    os.write(write, chain)  # (1 KB: the pipe holds it)
    os.close(write)
    try:
        result = run_reel("-q", "launch", f"/proc/{os.getpid()}/fd/{read}", timeout=60)
    finally:
        os.close(read)
    assert result.returncode == 0, result.stderr


def test_python_api_builds_and_validates_the_same() -> None:
    good = Topology(actor=[ActorConfig("a", "actors.examples.echo:Idle"), ActorConfig("b", "actors.examples.echo:Idle")],
                    link=[LinkConfig(("a", "b"))])
    validate(good)
    assert good.peers_of("a") == [("b", True)]
    bad = Topology(actor=[ActorConfig("a", "actors.examples.echo:Idle")], link=[LinkConfig(("a", "b"))])
    with pytest.raises(TopologyError, match=r"link\[0\]\.between: link to missing actor 'b'"):
        validate(bad, "api")
    assert parse(GOOD_ACTORS, "text").actor[1].name == "b"
