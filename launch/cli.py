"""The ``reel`` command line."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import json
import logging
import signal
import sys
import tempfile
from typing import Any, Callable, TypeVar

import msgspec

from actors import VERSION
from actors._logging import configure

from . import _leftovers, _scratch
from . import faults as fault_plan
from .launcher import (EXIT_OK, EXIT_OUTPUT, EXIT_RUN_FAILED, EXIT_SIGINT, EXIT_SIGTERM, EXIT_USAGE, LaunchError,
                       Launcher, RunResult)
from .topology import MAX_LIVENESS, MIN_LIVENESS, TopologyError, bundled_names, load

EXIT_CODES = f"""\
exit codes:
  0    the run succeeded
  1-63 the run's own failure code (e.g. the chain's sink found a mismatch)
  {EXIT_USAGE}    bad command line, or a bad input file (topology, ...)
  {EXIT_RUN_FAILED}   an actor failed, died, hung or could not connect
  {EXIT_OUTPUT}   its output could not be written (a full disk, say)
  130  interrupted by SIGINT (Ctrl-C); 143 by SIGTERM
"""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    configure("reel", level)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)  # a usage error: not on stdout, where output goes
        return EXIT_USAGE
    wrong = _beyond_64_bits(args) or _not_utf8(args) or _bad_developer_folder()
    if wrong:
        print(f"reel: {wrong}", file=sys.stderr)
        return EXIT_USAGE
    for parent in dict.fromkeys((tempfile.gettempdir(), "/tmp")):  # the launcher falls back to /tmp
        _scratch.sweep(parent)  # what reels killed earlier left behind
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:  # (one ignored by whoever started us stays so)
        signal.signal(signal.SIGTERM, _terminate)
    subreaper = _leftovers.become_subreaper()
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout = _Output(stdout)
    sys.stderr = _Diagnostics(stderr)
    try:
        code = args.func(args, level)
        sys.stdout.flush()  # here, where a failing output (a full disk) can be said
        return code
    except KeyboardInterrupt:  # before the launcher took over the signal (a long disk copy, say)
        print("reel: interrupted", file=sys.stderr)
        return EXIT_SIGINT
    except Terminated:  # the same for SIGTERM: the folders being filled are removed on the way out
        print("reel: terminated", file=sys.stderr)
        return EXIT_SIGTERM
    except (TopologyError, LaunchError) as e:
        print(f"reel: {e}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader of stdout went away while something printed outside
        # _Output (``reel inspect LOG | head``): not an error of ours.
        _quiet(stdout)
        return EXIT_OK
    except OutputFailed as e:
        _quiet(stdout)
        print(f"reel: cannot write its output: {e}", file=sys.stderr)
        return EXIT_OUTPUT
    finally:
        sys.stdout, sys.stderr = stdout, stderr
        if subreaper:
            # A second Ctrl-C (or a SIGTERM) here would cut the killing
            # short and leave the rest behind: the signals wait until it is done.
            held = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                killed = _leftovers.kill_leftovers()
            finally:
                for sig, handler in held.items():
                    signal.signal(sig, handler)
            _report_leftovers(killed)


class OutputFailed(Exception):
    """Standard output could not take what reel wrote (a full disk, an I/O
    error); a closed pipe is no failure."""


def _quiet(stream: Any) -> None:
    """Point ``stream``'s file at /dev/null, so that the exit's flush of
    what it still holds is quiet."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())


class _Output:
    """Standard output, its write errors told apart: a reader that went away
    (``reel inspect LOG | head``) drops what follows, and the command goes
    on to its own exit status (a failed run's included); any other error
    is OutputFailed."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._gone = False

    def write(self, text: str) -> int:
        self._told_apart(self._stream.write, text)
        return len(text)

    def flush(self) -> None:
        self._told_apart(self._stream.flush)

    def _told_apart(self, call: Callable[..., Any], *args: Any) -> None:
        if self._gone:
            return
        try:
            call(*args)
        except BrokenPipeError:
            self._gone = True
            _quiet(self._stream)
        except OSError as e:
            raise OutputFailed(e.strerror or str(e)) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _Diagnostics:
    """Standard error: what cannot be written there (its reader went away,
    a full disk) is dropped, and nothing else changes: a failed run still
    exits with its failure, and the actors' lines are still drained."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        with contextlib.suppress(OSError, ValueError):
            self._stream.write(text)
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _report_leftovers(killed: list[str]) -> None:
    if killed:
        print(f"reel: killed {len(killed)} process(es) that the run's actors left behind outside their "
              f"process groups: {', '.join(killed)}", file=sys.stderr)


def _usage(parser: argparse.ArgumentParser) -> int:
    """A command that needs a subcommand, given none: its usage, on stderr
    (a usage error, not output)."""
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def _bad_developer_folder() -> str:
    """What is wrong with a folder the developer's variables name
    (REEL_TRACE_DIR, REEL_PROFILE_DIR), or "": every actor writes its file
    there as it ends, so a wrong one would only be said then, in the middle
    of a run's last lines, and the run exit 0 without what was asked for."""
    from actors._process import PROFILE_ENV
    from actors._trace import ENV as TRACE_ENV

    for variable in (TRACE_ENV, PROFILE_ENV):
        folder = os.environ.get(variable)
        if not folder or not os.path.lexists(folder):
            continue  # unset, or made by the actors
        if not os.path.isdir(folder):
            return f"{variable}={folder}: is not a folder"
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"{variable}={folder}: cannot be written"
    return ""


def _beyond_64_bits(args: argparse.Namespace) -> str:
    """What is wrong if a number on the command line cannot travel in a
    message (msgpack carries 64-bit integers), else ""."""
    for name, value in vars(args).items():
        if isinstance(value, int) and not isinstance(value, bool) and not -(1 << 63) <= value < 1 << 63:
            return f"--{name.replace('_', '-')} {value}: too {'large' if value > 0 else 'small'} " + (
                f"(at most {(1 << 63) - 1})" if value > 0 else f"(at least {-(1 << 63)})")
    return ""


def _not_utf8(args: argparse.Namespace) -> str:
    """What is wrong if an argument is not UTF-8 text (a file name in
    another encoding), else "": it cannot travel in a message (msgpack
    strings are UTF-8), and would have failed the run in a traceback."""
    for name, value in vars(args).items():
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                try:
                    text.encode()
                except UnicodeEncodeError:
                    shown = text.encode(errors="surrogateescape").decode(errors="backslashreplace")
                    return (f"{name.replace('_', ' ')} '{shown}': not UTF-8 text; reel's actors take file names "
                            "as UTF-8 (rename the file, or link it under a UTF-8 name)")
    return ""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reel",
        description="reel: an actor-model, multi-process machine emulator with deterministic "
        "record and replay of block I/O.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"reel {VERSION}")
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument("-v", "--verbose", action="store_true", help="log debug detail from every actor")
    noise.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("launch", help="run a topology file (or a bundled topology by name)",
                       epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("topology", help=f"a TOML file, or one of: {', '.join(bundled_names())}")
    p.add_argument("--timeout", type=_positive_seconds, default=None, metavar="SECONDS",
                   help="stop the run as failed once it has run this many seconds from its Start (the "
                        "actors' start-up is bounded by run.startup_timeout)")
    p.add_argument("--json", action="store_true", help="print the run's result as one JSON object")
    _liveness(p, "the topology's run.liveness")
    p.set_defaults(func=_launch)

    r = sub.add_parser("run", help="run a guest program on the machine; exits with the guest's exit code",
                       epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("guest", help="an RV32 ELF file, or a bundled guest: " + ", ".join(_guest_names()))
    r.add_argument("--ram", type=_ram_mib, default=16, metavar="MIB", help="guest RAM in MiB (default 16)")
    r.add_argument("--max-instructions", type=_at_least(0), default=0, metavar="N",
                   help="stop the guest after N instructions (exit 124); 0, the default: no limit")
    r.add_argument("--poll-every", type=_at_least(1), default=65536, metavar="N",
                   help="look at the inbox every N guest instructions (default 65536)")
    r.add_argument("--disk", action="append", default=[], metavar="PATH|memory:SIZE",
                   help="attach a disk (repeatable): a raw image file, or memory:SIZE; in order: channel 0 "
                        "master, channel 1 master, channel 0 slave, channel 1 slave")
    r.add_argument("--latency", default="none", metavar="SPEC",
                   help="disk completion latency: none, fixed:DUR, uniform:MIN:MAX or exp:MEAN (e.g. uniform:0:2ms)")
    r.add_argument("--seed", type=_integer, default=0, help="seed of the disk latency draws (disk i uses seed + i)")
    r.add_argument("--fault", action="append", default=[], metavar="SPEC",
                   help="inject a fault (repeatable; needs a --disk): " + FAULT_HELP)
    _liveness(r)
    r.set_defaults(func=_run)

    rec = sub.add_parser("record", help="run a guest recording its disk completions to a replay log",
                         epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    rec.add_argument("guest", help="an RV32 ELF file, or a bundled guest")
    rec.add_argument("--disk", action="append", default=[], required=True, metavar="PATH",
                     help="a base disk image (repeatable); it is never written: the run works on a copy")
    rec.add_argument("--log", required=True, metavar="RUN.reel", help="where to write the replay log")
    rec.add_argument("--force", action="store_true", help="replace the log if it exists")
    rec.add_argument("--fault", action="append", default=[], metavar="SPEC",
                     help="inject a fault (repeatable), drawn from --seed: " + FAULT_HELP)
    rec.add_argument("--digest-every", type=_integer, default=64, metavar="N",
                     help="checkpoints between every actor's full digest in the log (default 64; 1 makes a "
                          "replay name the exact checkpoint of any divergence, at about 50 more bytes each)")
    _disk_timing(rec)
    _liveness(rec)
    rec.set_defaults(func=_record)

    rep = sub.add_parser("replay", help="replay a log: same console, same state, checked checkpoint by checkpoint",
                         epilog=EXIT_CODES + REPLAY_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    rep.add_argument("log", metavar="RUN.reel")
    rep.add_argument("--disk", action="append", default=[], metavar="PATH",
                     help="the base disks (default: the paths the log names); checked against the log")
    rep.add_argument("--fault", action="append", default=[], metavar="SPEC",
                     help="inject a runtime fault (repeatable, drawn from --seed): link:..., actor:..., "
                          "disks:reorder:... (disk faults of the recording are in the log)")
    _disk_timing(rep)
    _liveness(rep)
    rep.set_defaults(func=_replay)

    ins = sub.add_parser("inspect", help="print a replay log's header, counts and records")
    ins.add_argument("log", metavar="RUN.reel")
    ins.add_argument("--json", action="store_true", help="print one JSON object")
    ins.set_defaults(func=_inspect)

    dm = sub.add_parser("demo", help="record the journal guest, replay it twice, run it twice without blkreplay, "
                                     "and compare the digests", epilog=EXIT_CODES + DEMO_CODES,
                        description="In a temporary folder: record the bundled journal guest on two blank disks "
                                    "under random disk latency, replay the log twice under other latency seeds, run "
                                    "the guest twice without blkreplay, and print the final digests side by side.",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    dm.set_defaults(func=_demo)

    tr = sub.add_parser("trace", help="where a traced run's time went: hop latency per link, waiting per actor "
                                      "(run it with REEL_TRACE_DIR=DIR first)")
    tr.add_argument("dir", metavar="DIR", help="the folder REEL_TRACE_DIR named")
    tr.add_argument("--json", action="store_true", help="print one JSON object")
    tr.set_defaults(func=_trace)

    k = sub.add_parser("mkdisk", help="create a raw disk image (sparse)")
    k.add_argument("path")
    k.add_argument("size", help="like 8M, 512K, 1G (a multiple of 512 bytes)")
    k.add_argument("--force", action="store_true", help="replace an existing file")
    k.set_defaults(func=_mkdisk)

    f = sub.add_parser("faults", help="a fault-injection campaign: fault kinds x seeds, each recorded and replayed, "
                                      "outcomes checked")
    f.add_argument("--runs", type=_integer, default=200, help="runs in all, spread over the fault kinds (default 200)")
    f.add_argument("--jobs", type=_integer, default=os.cpu_count() or 1,
                   help="runs at once (default: one per core)")
    f.add_argument("--kinds", default=None, metavar="K1,K2", help="only these fault kinds (default: all)")
    f.add_argument("--json", action="store_true", help="print the table as one JSON object")
    f.set_defaults(func=_faults)

    b = sub.add_parser("bench", help="benchmarks, each against a baseline measured in the same run")
    bsub = b.add_subparsers(title="benchmarks", metavar="WHAT")
    t = bsub.add_parser("transport", help="runtime vs raw pyzmq+msgspec: round trip, throughput, idle RSS")
    t.add_argument("--json", action="store_true", help="print one JSON object")
    t.add_argument("--placement", choices=["split", "same"], default="split",
                   help="split: client and server on two cores (default); same: both on core 0")
    t.add_argument("--rounds", type=_integer, default=5, help="rounds; medians are reported (default 5)")
    t.set_defaults(func=_bench_transport)
    d = bsub.add_parser("disk", help="DMA through cpu -> ide -> image: QD1 latency and sequential throughput")
    d.add_argument("--json", action="store_true", help="print one JSON object")
    d.add_argument("--rounds", type=_integer, default=3, metavar="N",
                   help="rounds, each measuring the raw baseline and both guests; medians are reported (default 3)")
    d.set_defaults(func=_bench_disk)
    c = bsub.add_parser("cpu", help="guest instructions per second of the bundled bench guest")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.set_defaults(func=_bench_cpu)
    rb = bsub.add_parser("replay", help="direct vs record vs replay of an I/O-heavy guest: overhead, checkpoints/s, "
                                        "log bytes per event")
    rb.add_argument("--json", action="store_true", help="print one JSON object")
    rb.add_argument("--repetitions", type=_integer, default=5, metavar="N",
                    help="interleaved repetitions of the three modes; medians are reported (default 5)")
    rb.add_argument("--spin-us", type=_integer, default=None, metavar="US",
                    help="run.spin_us for every run (default: the benchmarks' 1000; 0: never wait awake)")
    rb.set_defaults(func=_bench_replay)
    b.set_defaults(func=lambda args, level: _usage(b))
    return parser


FAULT_HELP = fault_plan.GRAMMAR + " (see launch/faults.py)"


def _with_signals(launcher: Launcher, body: Callable[[], RunResult]) -> RunResult:
    """SIGINT and SIGTERM stop the run in order instead of killing reel;
    one that whoever started reel ignores stays ignored (``nohup``, or a
    non-interactive shell's ``&``, which ignores SIGINT: the run is not to
    end at a Ctrl-C meant for the foreground)."""
    previous = {s: signal.signal(s, lambda signum, frame: launcher.interrupt(signum))
                for s in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(s) is not signal.SIG_IGN}
    try:
        return body()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _launch(args: argparse.Namespace, level: int) -> int:
    topology = load(args.topology)
    if args.liveness is not None:
        topology.run.liveness = args.liveness
    # With --json, stdout is the result's alone: what actors print (a guest's
    # console, say) goes to stderr.
    launcher = Launcher(topology, log_level=level, origin=args.topology,
                        actors_stdout=sys.stderr.fileno() if args.json else None)

    def body() -> RunResult:
        with launcher:
            if launcher.start():
                launcher.wait(args.timeout)
        return launcher.result()

    result = _with_signals(launcher, body)
    _report(result, topology.name or args.topology, args.json)
    return guest_exit_status(result.code)  # (an actor may finish with any code: 256 exited 0)


def _report(result: RunResult, name: str, as_json: bool) -> None:
    if as_json:
        print(msgspec.json.encode(result).decode())
        return
    verdict = "succeeded" if result.code == EXIT_OK else f"failed (exit {result.code})"
    print(f"reel: run {name!r} {verdict} in {result.seconds:.2f} s: {result.reason}",
          file=sys.stdout if result.code == EXIT_OK else sys.stderr)
    for failure in result.failures:
        print(f"reel:   also: {failure}", file=sys.stderr)
    _warn_unstruck(result)
    for actor, stats in result.stats.items():
        odd = {k: v for k, v in (("duplicates", stats.duplicates), ("gaps", stats.gaps)) if v}
        odd.update({f"malformed {k}": v for k, v in stats.malformed.items()})
        odd.update({f"unhandled {k}": v for k, v in stats.unhandled.items()})
        if odd:
            print(f"reel:   {actor}: " + ", ".join(f"{k} {v}" for k, v in odd.items()), file=sys.stderr)


def _guest_names() -> list[str]:
    from .guests import bundled_names

    return bundled_names()


def _check_latency(spec: str) -> None:
    """Refuse a bad ``--latency`` naming the option (its message alone
    would not say where the spec came from)."""
    from actors.image import Latency, LatencyError

    try:
        Latency(spec)
    except LatencyError as e:
        raise LatencyError(f"--{e}") from None  # "--latency 'x': ..."


def _run(args: argparse.Namespace, level: int) -> int:
    from .guests import GuestError, load
    from .machines import cpu_only

    from actors.image import LatencyError

    from . import disks
    from .faults import FaultError, for_run, plan
    from .machines import ide_direct

    try:
        name, image = load(args.guest, args.ram)
        _check_latency(args.latency)  # here, not in every disk actor
        if args.disk:
            attached = disks.free(disks.distinct([disks.parse(spec) for spec in args.disk]))
            disks.fit_in_memory([d for d in attached if d.backend == "memory"])
            faults = [f.spec for f in plan(args.fault, [d.size for d in attached], args.seed)]
            topology = ide_direct(name, image, attached, args.ram, args.max_instructions, args.poll_every,
                                  args.latency, args.seed, faults=faults)
            for_run(faults, topology)
        else:
            if args.fault:
                raise FaultError("--fault needs a machine with disks (--disk)")
            topology = cpu_only(name, image, args.ram, args.max_instructions, args.poll_every)
        if args.liveness is not None:
            topology.run.liveness = args.liveness
    except (GuestError, disks.DiskError, LatencyError, FaultError) as e:
        print(f"reel: {e}", file=sys.stderr)
        return EXIT_USAGE
    launcher = Launcher(topology, log_level=level, origin=f"run {name}")

    def body() -> RunResult:
        with launcher:
            if launcher.start():
                launcher.wait()
        return launcher.result()

    result = _with_signals(launcher, body)
    if result.finished_by != "cpu" or result.code != 0:
        print(f"reel: {result.reason}", file=sys.stderr)
    _print_observed(result)
    return _console_lost(result) or guest_exit_status(result.code)


def _trace(args: argparse.Namespace, level: int) -> int:
    from actors import _trace as trace

    left_out: list[str] = []
    try:
        summary = trace.summarize(trace.load(args.dir, left_out))
    except (OSError, ValueError) as e:
        print(f"reel: {e}", file=sys.stderr)
        return EXIT_USAGE
    if left_out:
        print(f"reel: left out {len(left_out)} trace file(s) of an earlier run in {args.dir}: "
              f"{', '.join(left_out)}", file=sys.stderr)
    print(json.dumps(summary, indent=2) if args.json else trace.render(summary))
    return EXIT_OK


def _print_observed(result: RunResult) -> None:
    from .recording import observed

    line = observed(result)
    if line:
        print(f"reel: {line}", file=sys.stderr)
    _warn_unstruck(result)


def _warn_unstruck(result: RunResult) -> None:
    for fault in result.unstruck:  # (a log still lists it: it was planned)
        print(f"reel: warning: injected fault {fault}", file=sys.stderr)


REPLAY_CODES = """\
replay verdicts:
  0    the replay matched the recording
  3    it diverged (the report names the checkpoint, icount and actor)
  4    it matched as far as a truncated log goes
  5    it waited too long for a disk completion (the report says which)
"""


def _disk_timing(p: argparse.ArgumentParser) -> None:
    p.add_argument("--latency", default="none", metavar="SPEC",
                   help="disk completion latency: none, fixed:DUR, uniform:MIN:MAX or exp:MEAN")
    p.add_argument("--seed", type=_integer, default=0, help="seed of the latency draws (disk i uses seed + i)")
    p.add_argument("--backend", choices=["raw", "memory"], default="raw",
                   help="work on a copy of each base file (raw, default) or on it loaded into memory")


N = TypeVar("N", int, float)


def _whole(text: str) -> int:
    """A whole number written in ASCII digits, with an optional sign: int()
    also took " 5", "1_000" and other scripts' digits, which no one means."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ValueError(text)
    return int(text)


def _decimal(text: str) -> float:
    """A decimal number in ASCII (as _whole): float() also took "1_0",
    " 5" and other scripts' digits."""
    if not re.fullmatch(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", text):
        raise ValueError(text)
    return float(text)


def _integer(text: str) -> int:
    """An argparse type: a whole number (argparse says which option)."""
    return _parsed(text, _whole, "a whole number")


def _parsed(text: str, convert: Callable[[str], N], what: str) -> N:
    """``text`` as a number, or the error argparse reports naming ``what`` it should be."""
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def _seconds(text: str) -> float:
    value = _parsed(text, _decimal, "a number of seconds")
    if not MIN_LIVENESS <= value <= MAX_LIVENESS:
        raise argparse.ArgumentTypeError(f"{text!r}: must be from {MIN_LIVENESS:g} to {MAX_LIVENESS:g} seconds")
    return value


def _positive_seconds(text: str) -> float:
    value = _parsed(text, _decimal, "a number of seconds")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: must be a positive number of seconds")
    return value


def _liveness(p: argparse.ArgumentParser, default: str = "3") -> None:
    p.add_argument("--liveness", type=_seconds, default=None, metavar="SECONDS",
                   help="an actor silent this long (dead, hung or unreachable) stops the run, named "
                        f"(default: {default})")


def _run_with_signals(launcher: Launcher) -> RunResult:
    def body() -> RunResult:
        with launcher:
            if launcher.start():
                launcher.wait()
        return launcher.result()

    return _with_signals(launcher, body)


def _record(args: argparse.Namespace, level: int) -> int:
    from actors.image import LatencyError

    from . import recording
    from .disks import DiskError
    from .guests import GuestError, load

    try:
        name, image = load(args.guest)
        _check_latency(args.latency)
        result = recording.record(name, image, args.disk, args.log, args.latency, args.seed, args.backend, 16,
                                  level, _run_with_signals, fault_specs=args.fault,
                                  digest_every=args.digest_every, liveness=args.liveness, overwrite=args.force)
    except (GuestError, DiskError, LatencyError, recording.FaultError, OSError) as e:
        print(f"reel: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(f"reel: {result.reason}", file=sys.stderr)
    for failure in result.failures:
        print(f"reel:   also: {failure}", file=sys.stderr)
    _print_observed(result)
    return _console_lost(result) or (guest_exit_status(result.code) if result.finished_by == "logger" else result.code)


def _replay(args: argparse.Namespace, level: int) -> int:
    from actors.image import LatencyError

    from . import recording
    from .disks import DiskError

    try:
        _check_latency(args.latency)
        result = recording.replay(args.log, args.disk, args.latency, args.seed, args.backend, level,
                                  _run_with_signals, fault_specs=args.fault, liveness=args.liveness)
    except (recording.LogError, recording.FaultError, DiskError, LatencyError, OSError) as e:
        print(f"reel: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(f"reel: {result.reason}", file=sys.stderr)
    for failure in result.failures:
        print(f"reel:   also: {failure}", file=sys.stderr)
    _print_observed(result)
    compare = result.report.get("compare", {})
    for what, pair in compare.items():
        same = "same" if pair["replay"] == pair["recording"] else "DIFFERENT"
        print(f"reel:   {what:<10} replay {pair['replay']}  recording {pair['recording']}  {same}", file=sys.stderr)
    return _console_lost(result) or result.code


def _console_lost(result: RunResult) -> int:
    """EXIT_OUTPUT, saying so, when the guest's console could not be
    written (a full disk; a reader that went away is no failure); else 0."""
    error = result.report.get("console_error")
    if not error:
        return 0
    print(f"reel: cannot write the guest's console ({error}): its output is lost; the run went on "
          f"({result.reason})", file=sys.stderr)
    return EXIT_OUTPUT


DEMO_CODES = """\
demo verdicts:
  0    both replays equalled the recording (the direct runs may differ)
  1    a replay did not equal the recording
"""


def _demo(args: argparse.Namespace, level: int) -> int:
    from .demo import demo

    return demo(level, _run_with_signals)


def _inspect(args: argparse.Namespace, level: int) -> int:
    from . import recording

    try:
        out = recording.inspect(args.log)
    except recording.LogError as e:
        print(f"reel: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(out))
        return EXIT_OK
    h, summary = out["header"], out["summary"]
    print(f"log {summary['path']}: {summary['bytes']} bytes, format {h['format']}, reel {_shown(h['reel_version'])}")
    print(f"guest {_shown(h['guest'])} (sha256 {_shown(h['guest_sha256'][:16])}...), RAM {h['ram_mib']} MiB, "
          f"latency {_shown(h['latency'])} seed {h['seed']}")
    for i, d in enumerate(h["disks"]):
        print(f"disk {i}: {_shown(d['path'])} ({d['size']} bytes, digest {_shown(d['digest'])})")
    if h["faults"]:
        print("faults injected while recording: " + ", ".join(map(_shown, h["faults"])))
    per_event = summary["bytes_per_event"]
    print(f"{summary['checkpoints']} checkpoints, {summary['events']} events ({summary['failed_events']} failed), "
          f"header {summary['header_bytes']} bytes, checkpoints and seals {summary['record_bytes']} bytes"
          + (f" ({per_event:.2f} per event), " if per_event else ", ")
          + ("complete" if summary["complete"] else "being written: a recording holds it" if summary["being_written"]
             else f"INCOMPLETE: {summary['truncated'] or 'no end record'}"))
    for record in out["records"]:
        if "checkpoint" in record:
            events = " ".join(_event_text(r, s) for r, s in record["events"]) or "-"
            print(f"  checkpoint {record['checkpoint']:>6} icount {record['icount']:>12}  events {events}")
        elif "digests_at" in record:
            print(f"  digests at {record['digests_at']}: " + " ".join(f"{a}={d[:8]}" for a, d in
                                                                     record["digests"].items()))
        else:
            undelivered = " ".join(_event_text(r, s) for r, s in record["undelivered"])
            print(f"  end: icount {record['icount']}, exit code {record['exit_code']}, state {record['state'][:8]}, "
                  f"memory {record['memory'][:8]}" + (f", undelivered {undelivered}" if undelivered else ""))
    return EXIT_OK


def _shown(text: str) -> str:
    """A string from a log's header as one printable line: a control
    character (a newline, an escape sequence a damaged or edited log can
    carry) is shown escaped, not sent to the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _event_text(request: int, status: int) -> str:
    """A completion as ``reel inspect`` lists it: its request id, and "!status" if it failed."""
    return f"{request}" + (f"!{status}" if status else "")


def _faults(args: argparse.Namespace, level: int) -> int:
    from . import campaign

    known = {kind.name: kind for kind in campaign.KINDS}
    # (--kinds "" names no kind, as --kinds "," does: it is not the default, every kind)
    wanted = [k.strip() for k in args.kinds.split(",") if k.strip()] if args.kinds is not None else list(known)
    unknown = [k for k in wanted if k not in known]
    wanted = list(dict.fromkeys(wanted))
    if unknown or not wanted or args.runs < 1 or args.jobs < 1 or args.runs < len(wanted):
        why = (f"unknown fault kind(s) {', '.join(unknown)} (known: {', '.join(known)})" if unknown
               else f"--kinds {args.kinds!r} names no kind (known: {', '.join(known)})" if not wanted
               else f"--runs {args.runs} and --jobs {args.jobs} must be at least 1" if args.runs < 1 or args.jobs < 1
               else f"--runs {args.runs} is fewer than the {len(wanted)} kinds asked for: "
                    f"{', '.join(wanted[args.runs:])} would never run")
        print(f"reel faults: {why}", file=sys.stderr)
        return EXIT_USAGE
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)  # so that the campaign's folder is removed
    rows = campaign.campaign(args.runs, args.jobs, sys.stderr, tuple(known[k] for k in wanted))
    if args.json:
        print(json.dumps({"rows": [r.as_dict() for r in rows], "all_as_expected": campaign.all_well(rows)}))
    else:
        print(campaign.table(rows))
    return EXIT_OK if campaign.all_well(rows) else 1


class Terminated(BaseException):
    """SIGTERM came while no run's launcher was listening for it."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(EXIT_SIGTERM)


def _mkdisk(args: argparse.Namespace, level: int) -> int:
    from .disks import DiskError, make

    try:
        disk = make(args.path, args.size, args.force)
    except DiskError as e:
        print(f"reel: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(f"reel: created {disk.path}: {disk.size} bytes ({disk.sectors} sectors)")
    return EXIT_OK


def guest_exit_status(code: int) -> int:
    """A guest's exit code (or an actor's Finished code) as a process exit
    status (0..255; a code that does not fit reports 255, never a false
    success)."""
    return code if 0 <= code <= 255 else 255


def _bench_cpu(args: argparse.Namespace, level: int) -> int:
    from . import bench

    return _run_bench(lambda: bench.cpu(log_level=level), args.json, [
        ("mips", "guest instructions per second, M", ">= 25"),
        ("mips_cold", "... first run, empty code cache, M", ""),
        ("rss_beyond_ram_mib", "cpu peak RSS beyond guest RAM, MiB", f"<= {bench.CPU_RSS_BEYOND_RAM_MIB}"),
        ("icount", "guest instructions", ""),
        ("seconds", "run time, s", ""),
        ("seconds_cold", "... first run, s", ""),
        ("peak_rss_mib", "cpu peak RSS, MiB", ""),
        ("ram_mib", "guest RAM, MiB", ""),
    ])


def _bench_disk(args: argparse.Namespace, level: int) -> int:
    from . import bench

    if not _at_least_one("--rounds", args.rounds):
        return EXIT_USAGE
    return _run_bench(lambda: bench.disk(log_level=level, rounds=args.rounds), args.json, [
        ("latency_over_rt", "QD1 4 KiB read / raw round trip", "<= 4"),
        ("seq_read_over_hop", "1 MiB reads / raw 1 MiB hop", ">= 0.25"),
        ("qd1_latency_us", "QD1 4 KiB DMA read, us", ""),
        ("compute_us", "... of which cpu+ide compute, us", ""),
        ("transport_us", "... of which transport, us", ""),
        ("raw_rt_us", "raw pyzmq round trip, us", ""),
        ("seq_read_mbps", "sequential 1 MiB DMA reads, MB/s", ""),
        ("raw_hop_mbps", "raw pyzmq 1 MiB hop, MB/s", ""),
        ("raw_pread_mbps", "raw pread, MB/s", ""),
    ])


def _bench_replay(args: argparse.Namespace, level: int) -> int:
    from . import bench

    if not _at_least_one("--repetitions", args.repetitions):
        return EXIT_USAGE
    from actors._spin import MAX_SPIN_SECONDS

    spin_us = bench.BENCH_SPIN_US if args.spin_us is None else args.spin_us
    if not 0 <= spin_us <= MAX_SPIN_SECONDS * 1e6:
        print(f"reel: --spin-us {spin_us}: must be within 0..{MAX_SPIN_SECONDS * 1e6:.0f}", file=sys.stderr)
        return EXIT_USAGE
    code = _run_bench(lambda: bench.replay(args.repetitions, log_level=level, spin_us=spin_us), args.json, [
        ("record_over_direct", "record / direct run time", "<= 1.10"),
        ("replay_over_record", "replay / record run time", "<= 1.0"),
        ("checkpoints_per_s", "checkpoints per s recorded", ">= 5000"),
        ("log_bytes_per_event", "log bytes per event", "<= 4"),
        ("direct_s", "direct run, s", ""),
        ("record_s", "record run, s", ""),
        ("replay_s", "replay run, s", ""),
    ], lambda r: f"{r['guest']} on a {r['disk_mib']} MiB disk, latency {r['latency']}; run time: {r['timing']}")
    return code


def _bench_transport(args: argparse.Namespace, level: int) -> int:
    from . import bench

    if not _at_least_one("--rounds", args.rounds):
        return EXIT_USAGE
    return _run_bench(lambda: bench.transport(args.placement, args.rounds, log_level=level), args.json, [
        ("rt_ratio", "runtime / raw round-trip time", "<= 1.15"),
        ("small_throughput_ratio", "runtime / raw 64 B msgs/s", ">= 0.5"),
        ("bulk_throughput_ratio", "runtime / raw 64 KiB msgs/s", ">= 0.8"),
        ("rt_us", "runtime round trip, us", ""),
        ("raw_rt_us", "raw round trip, us", ""),
        ("raw_awake_rt_us", "raw round trip waiting awake, us", ""),
        ("rt_awake_ratio", "runtime / raw both waiting awake", ""),
        ("small_msgs_per_s", "runtime 64 B msgs/s", ""),
        ("raw_small_msgs_per_s", "raw 64 B msgs/s", ""),
        ("bulk_msgs_per_s", "runtime 64 KiB msgs/s", ""),
        ("raw_bulk_msgs_per_s", "raw 64 KiB msgs/s", ""),
        ("idle_actor_peak_rss_mb", "idle actor peak RSS, MB", "<= 60"),
    ])


def _at_least(least: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``least`` (the cpu's own
    bound, said here against the option rather than the topology)."""
    def parse(text: str) -> int:
        value = _parsed(text, _whole, "an integer")
        if value < least:
            raise argparse.ArgumentTypeError(f"{value}: must be at least {least}")
        return value
    return parse


def _ram_mib(text: str) -> int:
    """--ram: MiB of guest RAM, as much as fits from RAM_BASE to the top of
    the 32-bit space."""
    from actors.cpu.bus import MAX_RAM_MIB

    value = _parsed(text, _whole, "a whole number of MiB")
    if not 1 <= value <= MAX_RAM_MIB:
        raise argparse.ArgumentTypeError(f"{value}: must be within 1..{MAX_RAM_MIB} (MiB)")
    return value


def interpreter() -> str:
    """Which Python ran a benchmark: its figures depend on that as much as
    on reel (measured here: Debian's python3.11, built with profile-guided
    optimisation, ran the cpu benchmark 15-27% faster than a pyenv 3.11
    built without it, on the same machine)."""
    import platform

    return f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})"


def _at_least_one(flag: str, value: int) -> bool:
    """A count of rounds or repetitions; below 1 it is refused, saying so."""
    if value < 1:
        print(f"reel: {flag} {value}: at least 1", file=sys.stderr)
    return value >= 1


def _run_bench(measure: Callable[[], dict[str, Any]], as_json: bool, rows: list[tuple[str, str, str]],
               footer: Callable[[dict[str, Any]], str] | None = None) -> int:
    """Run one benchmark and print its figures (``footer``: a line after
    them, not in JSON); a run that fails is reported and exits 70."""
    try:
        report = measure()
    except RuntimeError as e:
        print(f"reel: {e}", file=sys.stderr)
        return EXIT_RUN_FAILED
    report["python"] = interpreter()
    _print_bench(report, as_json, rows)
    if footer is not None and not as_json:
        print(footer(report))
    return EXIT_OK


def _print_bench(report: dict[str, Any], as_json: bool, rows: list[tuple[str, str, str]]) -> None:
    if as_json:
        print(json.dumps(report))
        return
    count = report.get("rounds") or report.get("repetitions")
    rounds = f"; medians of {count} rounds" if count and count > 1 else "; one round" if count else ""
    print(f"placement: {report.get('placement')}{rounds}{_steal_note(report)}")
    if "python" in report:
        print(f"python: {report['python']}")
    if _stolen(report):
        print(f"warning: the hypervisor took over {STEAL_WARN_PCT:g}% of the machine in this run; its figures, the "
              "raw baselines above all, say more about the host than about reel: run it again")
    for key, label, target in rows:
        value = report[key]
        if value is None:  # a figure this host cannot give (see the benchmark)
            print(f"  {label:<34} {'n/a':>12}")
            continue
        shown = f"{value:.3f}" if isinstance(value, float) and value < 100 else f"{value:,.0f}"
        print(f"  {label:<34} {shown:>12}   {_against(value, target)}".rstrip())


STEAL_WARN_PCT = 5.0
"""Hypervisor steal (percent, in the worst round) above which a benchmark's
figures are flagged: at 26 % here the raw round trip read 658 us against
106-130 us unloaded, and every ratio to it looked met."""


def _stolen(report: dict[str, Any]) -> bool:
    worst = report.get("steal_pct_max", report.get("steal_pct"))
    return worst is not None and worst > STEAL_WARN_PCT


def _steal_note(report: dict[str, Any]) -> str:
    """How much of the machine the hypervisor took meanwhile (launch._steal)."""
    steal, most = report.get("steal_pct"), report.get("steal_pct_max")
    if steal is None:
        return ""
    worst = f", {most:.1f}% in the worst round" if most is not None else ""
    return f"; hypervisor steal {steal:.1f}%{worst}"


def _against(value: float, target: str) -> str:
    """"target <= 1.10: met" (or "MISSED"); nothing without a target."""
    if not target:
        return ""
    op, bound = target.split()
    met = value <= float(bound) if op == "<=" else value >= float(bound)
    return f"target {target}: {'met' if met else 'MISSED'}"
