"""Random RV32IM programs for differential tests against QEMU.

``program(seed)`` writes the assembly of a guest made of many cases. A case
is a function that loads every free register with a value drawn from edge
cases and random words, runs a random body, and stores every register (and
mscratch) to the array its caller passes. A body mixes every computational
instruction of RV32IM, aligned loads and stores into a scratch buffer,
in-line CSR accesses to mscratch, forward branches and jumps, and counted
loops (so that translated code runs its loop form, side exits included).
``MAIN_C`` runs each case several times (so that the later runs go through
compiled blocks) and prints the stored state of the last run, the scratch
buffer's checksum, and whether every run stored the same.

Register roles in a body: x2 (sp) is never written; x26 counts loops and
only loop code writes it; x27 points at the scratch buffer and is never
written. The prologue saves what the C caller needs (ra, gp, tp, s0-s11).
"""

from __future__ import annotations

import random

ALU_RR = ["add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and",
          "mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu"]
ALU_RI = ["addi", "slti", "sltiu", "xori", "ori", "andi"]
SHIFT_I = ["slli", "srli", "srai"]
LOADS = {"lb": 1, "lh": 2, "lw": 4, "lbu": 1, "lhu": 2}
STORES = {"sb": 1, "sh": 2, "sw": 4}
BRANCHES = ["beq", "bne", "blt", "bge", "bltu", "bgeu"]
CSR_R = ["csrrw", "csrrs", "csrrc"]
CSR_I = ["csrrwi", "csrrsi", "csrrci"]

COUNTER, BASE = 26, 27
FREE = [r for r in range(1, 32) if r not in (2, COUNTER, BASE)]
STORED = [r for r in range(1, 32) if r != 2]  # into out[r]; out[0] takes mscratch
SCRATCH = 256
EDGES = [0, 1, 2, 31, 32, 33, 0x7FF, 0x800, 0xFFF, 0x7FFFFFFF, 0x80000000, 0x80000001,
         0xFFFFFFFF, 0xFFFFFFFE, 0xFFFF8000, 0x8000, 0xFFFF, 0xFF, 0x80, 0x7F]
SAVED = [1, 3, 4, 8, 9, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27]  # ra, gp, tp, s0-s11
FRAME = 4 * (len(SAVED) + 2)  # + the out pointer + a spill slot


def word(rng: random.Random) -> int:
    return rng.choice(EDGES) if rng.random() < 0.5 else rng.getrandbits(32)


def imm12(rng: random.Random) -> int:
    return rng.choice([0, 1, -1, 2047, -2048, 31, 32]) if rng.random() < 0.3 else rng.randint(-2048, 2047)


class _Case:
    """One case's assembly, with labels unique in the program."""

    def __init__(self, rng: random.Random, name: str) -> None:
        self.rng = rng
        self.name = name
        self.labels = 0

    def label(self) -> str:
        self.labels += 1
        return f".L{self.name}_{self.labels}"

    def reg(self) -> int:
        return self.rng.choice(FREE)

    def src(self) -> int:
        """Any register a body may read: the free ones, x0, and now and then
        the counter or the scratch pointer."""
        r = self.rng.random()
        return 0 if r < 0.05 else COUNTER if r < 0.08 else BASE if r < 0.1 else self.reg()

    def dest(self) -> int:
        return 0 if self.rng.random() < 0.03 else self.reg()

    def insn(self) -> str:
        rng = self.rng
        kind = rng.choices(["rr", "ri", "shift", "lui", "auipc", "load", "store", "csr"],
                           weights=[30, 16, 8, 3, 2, 12, 8, 3])[0]
        if kind == "rr":
            return f"{rng.choice(ALU_RR)} x{self.dest()}, x{self.src()}, x{self.src()}"
        if kind == "ri":
            return f"{rng.choice(ALU_RI)} x{self.dest()}, x{self.src()}, {imm12(rng)}"
        if kind == "shift":
            return f"{rng.choice(SHIFT_I)} x{self.dest()}, x{self.src()}, {rng.choice([0, 1, 31, rng.randint(0, 31)])}"
        if kind == "lui":
            return f"lui x{self.dest()}, {rng.choice([0, 1, 0x80000, 0xFFFFF, rng.getrandbits(20)])}"
        if kind == "auipc":
            return f"auipc x{self.dest()}, {rng.getrandbits(20)}"
        if kind == "load":
            op = rng.choice(list(LOADS))
            return f"{op} x{self.dest()}, {self.offset(LOADS[op])}(x{BASE})"
        if kind == "store":
            op = rng.choice(list(STORES))
            return f"{op} x{self.src()}, {self.offset(STORES[op])}(x{BASE})"
        if rng.random() < 0.5:
            return f"{rng.choice(CSR_R)} x{self.dest()}, mscratch, x{self.src()}"
        return f"{rng.choice(CSR_I)} x{self.dest()}, mscratch, {rng.randint(0, 31)}"

    def offset(self, size: int) -> int:
        return self.rng.randrange(0, SCRATCH, size)

    def segment(self, length: int) -> list[str]:
        """Straight-line instructions with forward branches and jumps that
        land inside the segment or just after it."""
        rng = self.rng
        slots: list[list[str]] = [[] for _ in range(length + 1)]  # labels placed before slot i
        body: list[str] = []
        for i in range(length):
            body.append("")
            if rng.random() < 0.15:
                target = rng.randint(i + 1, length)
                name = self.label()
                slots[target].append(f"{name}:")
                if rng.random() < 0.2:
                    body[i] = f"jal x{self.dest()}, {name}"
                else:
                    body[i] = f"{rng.choice(BRANCHES)} x{self.src()}, x{self.src()}, {name}"
            else:
                body[i] = self.insn()
        out: list[str] = []
        for i in range(length):
            out += slots[i] + [body[i]]
        return out + slots[length]

    def loop(self) -> list[str]:
        """A counted loop: its body never writes the counter."""
        top = self.label()
        return [f"li x{COUNTER}, {self.rng.randint(1, 40)}", f"{top}:", *self.segment(self.rng.randint(2, 12)),
                f"addi x{COUNTER}, x{COUNTER}, -1", f"bnez x{COUNTER}, {top}"]

    def body(self) -> list[str]:
        out: list[str] = []
        for _ in range(self.rng.randint(1, 4)):
            out += self.loop() if self.rng.random() < 0.4 else self.segment(self.rng.randint(4, 30))
        return out

    def source(self) -> list[str]:
        rng = self.rng
        spill, outp = FRAME - 8, FRAME - 4
        lines = [f".globl {self.name}", f"{self.name}:", f"addi sp, sp, -{FRAME}"]
        lines += [f"sw x{r}, {4 * i}(sp)" for i, r in enumerate(SAVED)]
        lines += [f"sw a0, {outp}(sp)", f"la x{BASE}, fuzz_scratch", f"li x{COUNTER}, {word(rng)}"]
        lines += [f"li x{r}, {word(rng)}" for r in FREE]
        lines += self.body()
        lines += [f"sw x31, {spill}(sp)", f"lw x31, {outp}(sp)"]
        lines += [f"sw x{r}, {4 * r}(x31)" for r in STORED if r != 31]
        lines += [f"lw x30, {spill}(sp)", "sw x30, 124(x31)", "csrr x30, mscratch", "sw x30, 0(x31)"]
        lines += [f"lw x{r}, {4 * i}(sp)" for i, r in enumerate(SAVED)]
        lines += [f"addi sp, sp, {FRAME}", "ret"]
        return lines


def program(seed: int, cases: int) -> str:
    """The assembly of ``cases`` random cases and their table."""
    rng = random.Random(seed)
    lines = [f"# generated by tests/randprog.py, seed {seed}", ".text", ".balign 4"]
    for k in range(cases):
        lines += _Case(rng, f"fuzz_case{k}").source()
    lines += [".section .rodata", ".balign 4", ".globl fuzz_cases", "fuzz_cases:"]
    lines += [f".word fuzz_case{k}" for k in range(cases)]
    lines += [".globl fuzz_count", f"fuzz_count: .word {cases}"]
    lines += [".globl fuzz_scratch_init", "fuzz_scratch_init:"]
    lines += [f".byte {', '.join(str(rng.getrandbits(8)) for _ in range(16))}" for _ in range(SCRATCH // 16)]
    lines += [".data", ".balign 4", ".globl fuzz_scratch", f"fuzz_scratch: .space {SCRATCH}"]
    return "\n".join(f"    {line}" if not line.endswith(":") else line for line in lines) + "\n"


MAIN_C = r"""
#include "rt.h"

#define RUNS 6  /* more than the HOT the test sets: the last runs are compiled */

typedef void (*fuzz_fn)(uint32_t *out);
extern const fuzz_fn fuzz_cases[];
extern const uint32_t fuzz_count;
extern const uint8_t fuzz_scratch_init[256];
extern uint8_t fuzz_scratch[256];

static uint32_t checksum(const uint8_t *p, uint32_t n)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

int main(void)
{
    uint32_t first[32] = {0}, out[32] = {0};
    for (uint32_t k = 0; k < fuzz_count; k++) {
        int same = 1;
        uint32_t first_sum = 0, sum = 0;
        for (int run = 0; run < RUNS; run++) {
            memcpy(fuzz_scratch, fuzz_scratch_init, 256);
            csr_write(mscratch, 0);
            fuzz_cases[k](run ? out : first);
            sum = checksum(fuzz_scratch, 256);
            if (run == 0)
                first_sum = sum;
            else
                same &= memcmp(first, out, sizeof out) == 0 && sum == first_sum;
        }
        rt_put_udec(k);
        for (int r = 0; r < 32; r++) {
            rt_putc(' ');
            rt_put_hex(out[r]);
        }
        rt_puts(" m ");
        rt_put_hex(sum);
        rt_puts(same ? " same\n" : " runs-differ\n");
    }
    return 0;
}
"""
