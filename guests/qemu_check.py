#!/usr/bin/env python3
"""Run every `qemu = true` guest of guests.toml on QEMU and compare.

    python3 qemu_check.py [NAME ...]      (or: make check)

Each guest runs as
    qemu-system-riscv32 -machine virt -bios none -kernel ELF -nographic
with a 30 s timeout; its exit code and (where the manifest gives one) its
exact stdout must match the manifest.  Prints one line per guest with the
wall time; exits 1 if any guest differs.
"""
import pathlib
import subprocess
import sys
import time
import tomllib

HERE = pathlib.Path(__file__).resolve().parent
ELF_DIR = HERE.parent / "launch" / "guests"


def main(names):
    manifest = tomllib.loads((HERE / "guests.toml").read_text())["guests"]
    failed = 0
    for name, spec in manifest.items():
        if names and name not in names:
            continue
        if not spec["qemu"]:
            print(f"{name:16} skipped (qemu = false)")
            continue
        cmd = ["qemu-system-riscv32", "-machine", "virt", "-bios", "none",
               "-kernel", str(ELF_DIR / f"{name}.elf"), "-nographic"]
        start = time.monotonic()
        run = subprocess.run(cmd, capture_output=True, timeout=30,
                             stdin=subprocess.DEVNULL)
        took = time.monotonic() - start
        problems = []
        if run.returncode != spec["exit_code"]:
            problems.append(f"exit {run.returncode} != {spec['exit_code']}")
        if "stdout" in spec and run.stdout.decode(errors="replace") != spec["stdout"]:
            problems.append("stdout differs")
        print(f"{name:16} {'FAIL ' + ', '.join(problems) if problems else 'ok'}"
              f" ({took:.2f} s)")
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
