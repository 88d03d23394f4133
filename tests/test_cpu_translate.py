"""The translator against a plain reference model of RV32IM, on random
straight-line programs with random register values: every computational
instruction, loads and stores of every width (aligned and not), and the
signed/unsigned edge values where translation shortcuts could go wrong.
Each program runs translated as blocks, interpreted, and one instruction
at a time."""

from __future__ import annotations

import random

import pytest

from actors.cpu.bus import RAM_BASE
from actors.cpu.machine import Machine

M = 0xFFFFFFFF
EDGES = [0, 1, 2, 3, 31, 32, 33, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0x80000001,
         0xFFFFFFFE, 0xFFFFFFFF, 0x12345678, 0xDEADBEEF]


def s32(x: int) -> int:
    return x - (1 << 32) if x & 0x80000000 else x


def ref_alu(op: str, a: int, b: int) -> int:
    """RV32IM semantics, written the obvious way."""
    sa, sb = s32(a), s32(b)
    if op == "add": return (a + b) & M
    if op == "sub": return (a - b) & M
    if op == "sll": return (a << (b & 31)) & M
    if op == "slt": return int(sa < sb)
    if op == "sltu": return int(a < b)
    if op == "xor": return a ^ b
    if op == "srl": return a >> (b & 31)
    if op == "sra": return (sa >> (b & 31)) & M
    if op == "or": return a | b
    if op == "and": return a & b
    if op == "mul": return (a * b) & M
    if op == "mulh": return ((sa * sb) >> 32) & M
    if op == "mulhsu": return ((sa * b) >> 32) & M
    if op == "mulhu": return (a * b) >> 32
    if op == "div":
        if b == 0: return M
        if sa == -(1 << 31) and sb == -1: return a
        q = abs(sa) // abs(sb)
        return (q if (sa < 0) == (sb < 0) else -q) & M
    if op == "divu": return a // b if b else M
    if op == "rem":
        if b == 0: return a
        if sa == -(1 << 31) and sb == -1: return 0
        r = abs(sa) % abs(sb)
        return (r if sa >= 0 else -r) & M
    if op == "remu": return a % b if b else a
    raise AssertionError(op)


R_OPS = {  # name: (funct3, funct7)
    "add": (0, 0), "sub": (0, 0x20), "sll": (1, 0), "slt": (2, 0), "sltu": (3, 0), "xor": (4, 0),
    "srl": (5, 0), "sra": (5, 0x20), "or": (6, 0), "and": (7, 0), "mul": (0, 1), "mulh": (1, 1),
    "mulhsu": (2, 1), "mulhu": (3, 1), "div": (4, 1), "divu": (5, 1), "rem": (6, 1), "remu": (7, 1),
}
I_OPS = {"addi": (0, "add"), "slti": (2, "slt"), "sltiu": (3, "sltu"), "xori": (4, "xor"), "ori": (6, "or"),
         "andi": (7, "and")}
SHIFT_I = {"slli": (1, 0, "sll"), "srli": (5, 0, "srl"), "srai": (5, 0x20, "sra")}
LOADS = {"lb": (0, 1, True), "lh": (1, 2, True), "lw": (2, 4, False), "lbu": (4, 1, False), "lhu": (5, 2, False)}
STORES = {"sb": (0, 1), "sh": (1, 2), "sw": (2, 4)}
DATA = RAM_BASE + 0x10000  # a scratch area the programs address through x31


class Reference:
    """Registers and a byte dict of memory; executes the instruction tuples."""

    def __init__(self, regs: list[int], memory: bytearray) -> None:
        self.x = list(regs)
        self.mem = memory

    def run(self, program: list[tuple]) -> None:
        for op, rd, rs1, rs2, imm in program:
            a, b = self.x[rs1], self.x[rs2]
            if op in R_OPS:
                value = ref_alu(op, a, b)
            elif op in I_OPS:
                value = ref_alu(I_OPS[op][1], a, imm & M)
            elif op in SHIFT_I:
                value = ref_alu(SHIFT_I[op][2], a, imm)
            elif op == "lui":
                value = imm
            elif op in LOADS:
                _, size, signed = LOADS[op]
                addr = (a + imm) & M
                off = addr - RAM_BASE
                value = int.from_bytes(self.mem[off:off + size], "little")
                if signed and value >> (8 * size - 1):
                    value = (value - (1 << (8 * size))) & M
            elif op in STORES:
                size = STORES[op][1]
                off = ((a + imm) & M) - RAM_BASE
                self.mem[off:off + size] = (b & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
                continue
            else:
                raise AssertionError(op)
            if rd:
                self.x[rd] = value


def encode(op: str, rd: int, rs1: int, rs2: int, imm: int) -> int:
    if op in R_OPS:
        f3, f7 = R_OPS[op]
        return (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x33
    if op in I_OPS:
        return ((imm & 0xFFF) << 20) | (rs1 << 15) | (I_OPS[op][0] << 12) | (rd << 7) | 0x13
    if op in SHIFT_I:
        f3, f7, _ = SHIFT_I[op]
        return (f7 << 25) | (imm << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x13
    if op == "lui":
        return imm | (rd << 7) | 0x37
    if op in LOADS:
        return ((imm & 0xFFF) << 20) | (rs1 << 15) | (LOADS[op][0] << 12) | (rd << 7) | 0x03
    if op in STORES:
        return (((imm >> 5) & 0x7F) << 25) | (rs2 << 20) | (rs1 << 15) | (STORES[op][0] << 12) | (
            (imm & 0x1F) << 7) | 0x23
    raise AssertionError(op)


def random_program(rng: random.Random, length: int) -> list[tuple]:
    program = []
    for _ in range(length):
        kind = rng.random()
        rd = rng.choice([0, *range(1, 31)])  # x31 holds the data pointer; x0 writes must vanish
        rs1, rs2 = rng.randrange(31), rng.randrange(31)
        if kind < 0.45:
            op = rng.choice(list(R_OPS))
            program.append((op, rd, rs1, rs2, 0))
        elif kind < 0.65:
            op = rng.choice(list(I_OPS))
            program.append((op, rd, rs1, 0, rng.choice([0, 1, -1, 2047, -2048, rng.randrange(-2048, 2048)])))
        elif kind < 0.75:
            op = rng.choice(list(SHIFT_I))
            program.append((op, rd, rs1, 0, rng.choice([0, 1, 7, 31, rng.randrange(32)])))
        elif kind < 0.8:
            program.append(("lui", rd, 0, 0, rng.randrange(1 << 20) << 12))
        elif kind < 0.9:
            op = rng.choice(list(LOADS))
            program.append((op, rd, 31, 0, rng.randrange(0, 256)))  # aligned or not
        else:
            op = rng.choice(list(STORES))
            program.append((op, 0, 31, rs2, rng.randrange(0, 256)))
    return program


def run_translated(program: list[tuple], regs: list[int], memory: bytes, mode: str) -> Machine:
    """``mode``: "blocks" (compiled at the first run), "interpreted" (run
    once, so never hot) or "steps" (an exact stop after every instruction)."""
    m = Machine(ram_size=1 << 20)
    if mode == "blocks":
        m.translator.hot = 1
    code = b"".join(encode(*insn).to_bytes(4, "little") for insn in program)
    exit_sequence = [0x001002B7, 0x00005337, 0x55530313, 0x0062A023]  # lui t0,0x100; li t1,0x5555; sw t1,0(t0)
    code += b"".join(w.to_bytes(4, "little") for w in exit_sequence)
    m.bus.write_ram(RAM_BASE, code)
    m.bus.write_ram(DATA, memory)
    m.regs[:] = regs
    m.pc = RAM_BASE
    if mode == "steps":
        for n in range(1, len(program) + 1):  # an exact stop after every instruction
            assert m.run(n) == "limit" and m.icount[0] == n
    assert m.run(10_000) == "exit"
    return m


def ran_translated(m: Machine, mode: str, block_at: int = RAM_BASE) -> None:
    """In mode "blocks" the code under test must really have run as a
    translated block (the one starting at ``block_at``): a run stopped
    within MAX_BLOCK instructions of its limit interprets what does not
    fit, and a block too long for what is left is never compiled there."""
    if mode == "blocks":
        assert block_at in m.translator.blocks, f"no block at {block_at:#x}: the test ran single steps only"


def run_in_mode(m: Machine, mode: str, instructions: int, limit: int = 200) -> None:
    """Run ``m`` from its pc on to ``limit`` more instructions as ``mode``
    wants: "steps" stops exactly after each of the first ``instructions``
    (the code under test), "blocks" must compile the block at the start (set
    ``hot`` = 1 first), "interpreted" leaves ``hot`` alone so code run once
    is interpreted. The program should end in a loop (``j .``, a handler's)."""
    start, base = m.pc, m.icount[0]
    if mode == "steps":
        for n in range(1, instructions + 1):
            m.run(base + n)
    m.run(base + limit)
    ran_translated(m, mode, start)


@pytest.mark.parametrize("seed", range(40))
def test_random_programs_match_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    regs = [0] + [rng.choice(EDGES) if rng.random() < 0.6 else rng.getrandbits(32) for _ in range(30)] + [DATA]
    regs[5] = regs[6] = 0  # t0/t1 are clobbered by the exit sequence; keep them out of the comparison
    memory = bytes(rng.getrandbits(8) for _ in range(512))
    program = [insn for insn in random_program(rng, 60) if insn[1] not in (5, 6, 31)]
    ref = Reference(regs, bytearray(1 << 20))
    ref.mem[DATA - RAM_BASE:DATA - RAM_BASE + len(memory)] = memory
    ref.run(program)
    for mode in ("blocks", "interpreted", "steps"):
        m = run_translated(program, regs, memory, mode)
        got = m.regs
        for r in range(32):
            if r in (5, 6):
                continue
            assert got[r] == ref.x[r], (
                f"seed {seed}, {mode}: x{r} = {got[r]:#x}, reference {ref.x[r]:#x}")
        assert bytes(m.bus.ram[DATA - RAM_BASE:DATA - RAM_BASE + 1024]) == bytes(
            ref.mem[DATA - RAM_BASE:DATA - RAM_BASE + 1024])
        assert m.icount[0] == len(program) + 4


def test_the_reference_itself_on_spec_edge_cases() -> None:
    """The reference model agrees with the spec's table for M."""
    assert ref_alu("div", 0x80000000, M) == 0x80000000
    assert ref_alu("rem", 0x80000000, M) == 0
    assert ref_alu("div", 7, 0) == M and ref_alu("divu", 7, 0) == M
    assert ref_alu("rem", 7, 0) == 7 and ref_alu("remu", 7, 0) == 7
    assert ref_alu("div", (-7) & M, 2) == (-3) & M and ref_alu("rem", (-7) & M, 2) == (-1) & M
    assert ref_alu("mulh", M, M) == 0 and ref_alu("mulhu", M, M) == M - 1
    assert ref_alu("sll", 1, 33) == 2 and ref_alu("sra", 0x80000000, 31) == M


def _jal(rd: int, offset: int) -> int:
    o = offset & 0x1FFFFF
    return (((o >> 20) & 1) << 31) | (((o >> 1) & 0x3FF) << 21) | (((o >> 11) & 1) << 20) | (
        ((o >> 12) & 0xFF) << 12) | (rd << 7) | 0x6F


@pytest.mark.parametrize("mode", ["blocks", "interpreted", "steps"])
@pytest.mark.parametrize("jump", ["jal", "jalr"])
def test_a_jump_to_a_misaligned_target_traps_on_the_jump_and_writes_no_link(jump: str, mode: str) -> None:
    """The spec: the exception is taken on the jump, not the target, and
    the jump does not retire (so its link register keeps its value)."""
    m = Machine(ram_size=1 << 20)
    if mode == "blocks":
        m.translator.hot = 1
    handler = RAM_BASE + 0x400
    m.hart.mtvec = handler
    m.bus.write_ram(handler, (0x0000006F).to_bytes(4, "little"))  # j . (stays there)
    first = encode("addi", 7, 0, 0, 1)  # x7 = 1, so the jump is not the first instruction
    word = _jal(1, 6) if jump == "jal" else (((6 & 0xFFF) << 20) | (10 << 15) | (1 << 7) | 0x67)  # jalr ra, 6(a0)
    m.bus.write_ram(RAM_BASE, first.to_bytes(4, "little") + word.to_bytes(4, "little"))
    m.regs[1], m.regs[10] = 0x1234, RAM_BASE
    m.pc = RAM_BASE
    run_in_mode(m, mode, 2)  # the trap, then the handler's loop
    target = RAM_BASE + 4 + 6 if jump == "jal" else RAM_BASE + 6
    assert (m.hart.mcause, m.hart.mepc, m.hart.mtval) == (0, RAM_BASE + 4, target)
    assert m.regs[1] == 0x1234 and m.regs[7] == 1
    assert m.pc == handler


def _csr(funct3: int, rd: int, rs1: int, csr: int) -> int:
    return (csr << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | 0x73


@pytest.mark.parametrize("mode", ["blocks", "interpreted", "steps"])
@pytest.mark.parametrize("counter, high", [(0xB02, 0xB82), (0xB00, 0xB80)], ids=["minstret", "mcycle"])
def test_a_counter_reads_back_what_was_written(counter: int, high: int, mode: str) -> None:
    """The spec: the writer's own retirement comes before its write, so the
    next instruction reads the value written, and a write of one half keeps
    the other as it stands after the writer retired. In blocks too: the
    counters run alone, where icount is exact (hart.INLINE_CSRS)."""
    m = Machine(ram_size=1 << 20)
    if mode == "blocks":
        m.translator.hot = 1
    program = [
        encode("addi", 11, 0, 0, 1),  # a plain instruction first: in blocks, the counters follow a block
        _csr(1, 0, 5, counter),   # csrw counter, x5
        _csr(2, 6, 0, counter),   # csrr x6, counter   -> x5 exactly
        _csr(2, 7, 0, high),      # csrr x7, counterh  -> the high half, untouched by the write
        _csr(1, 0, 8, high),      # csrw counterh, x8
        _csr(2, 9, 0, high),      # csrr x9, counterh  -> x8
        _csr(2, 10, 0, counter),  # csrr x10, counter  -> x5 + 4 (four instructions retired since)
        0x0000006F,               # j .
    ]
    m.bus.write_ram(RAM_BASE, b"".join(w.to_bytes(4, "little") for w in program))
    m.regs[5], m.regs[8] = 0xFFFFFFFE, 0x1234
    m.pc = RAM_BASE
    m.icount[0] = 1000
    run_in_mode(m, mode, len(program) - 1)
    assert m.regs[6] == 0xFFFFFFFE
    assert m.regs[7] == 0
    assert m.regs[9] == 0x1234
    assert m.regs[10] == (0xFFFFFFFE + 4) & M  # the low half counted on through its wrap


class _RewritingDevice:
    """A device whose read, like a DMA served while the cpu waits for an
    MMIO value, rewrites guest memory (here the very load instruction that
    reads it) and raises an interrupt line."""

    BASE, SIZE = 0x40000000, 0x1000

    def __init__(self, machine: Machine, at: int, new_word: int) -> None:
        self.machine, self.at, self.new_word = machine, at, new_word

    def read(self, offset: int, size: int) -> int:
        self.machine.bus.write_ram(self.at, self.new_word.to_bytes(4, "little"))
        self.machine.plic.set_level(1, True)
        return 0xF0

    def write(self, offset: int, size: int, value: int) -> None:
        pass


@pytest.mark.parametrize("mode", ["blocks", "interpreted", "steps"])
def test_a_device_load_that_raises_an_interrupt_finishes_as_the_instruction_that_ran(mode: str) -> None:
    """The load retires with its own destination and width even though the
    memory it was fetched from changed while it waited for its value."""
    m = Machine(ram_size=1 << 20)
    if mode == "blocks":
        m.translator.hot = 1
    m.plic.priority[1], m.plic.enabled = 1, 1 << 1  # the device's line makes a deliverable source pending
    load = RAM_BASE + 4
    program = [encode("lui", 10, 0, 0, 0x40000000), encode("lw", 7, 10, 0, 0), encode("addi", 0, 0, 0, 0),
               0x0000006F]  # j .
    m.bus.write_ram(RAM_BASE, b"".join(w.to_bytes(4, "little") for w in program))
    m.bus.attach(_RewritingDevice(m, load, encode("lb", 9, 10, 0, 0)))
    reasons: list[str] = []
    retire = m._retire
    m._retire = lambda e, pc: (reasons.append(e.reason), retire(e, pc))[1]  # type: ignore[method-assign]
    m.pc = RAM_BASE
    run_in_mode(m, mode, 3)
    assert reasons.count("irq") == 1, f"the load did not end its block with an interrupt change: {reasons}"
    assert m.pc == RAM_BASE + 12
    assert (m.regs[7], m.regs[9]) == (0xF0, 0), "the load's value went where the rewritten word says"


class _Window:
    def __init__(self, base: int, size: int) -> None:
        self.BASE, self.SIZE = base, size

    def read(self, offset: int, size: int) -> int:
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        pass


@pytest.mark.parametrize("windows, what", [
    ([(0x1000, 0x100), (0x10F0, 0x10)], "device window 0x10f0 overlaps 0x1000"),
    ([(RAM_BASE - 0x10, 0x20)], "overlaps RAM"),
    # translated code takes an address that did not trap for one below RAM's end (bus.DEVICES_FROM)
    ([(0xF000_0000, 0x100)], r"device window 0xf0000000 \(\+0x100\) lies outside \[0x800, 0x80000000\)"),
    ([(0x100, 0x100)], r"device window 0x100 \(\+0x100\) lies outside"),
])
def test_overlapping_device_windows_are_refused_when_built_and_when_attached(windows: list[tuple[int, int]],
                                                                             what: str) -> None:
    from actors.cpu.bus import Bus

    with pytest.raises(ValueError, match=what):
        Bus(1 << 20, [_Window(*w) for w in windows])
    bus = Bus(1 << 20, [_Window(*w) for w in windows[:-1]])
    with pytest.raises(ValueError, match=what):
        bus.attach(_Window(*windows[-1]))


_CSR_F3 = {"csrrw": 1, "csrrs": 2, "csrrc": 3, "csrrwi": 5, "csrrsi": 6, "csrrci": 7}
_PLAIN_CSRS = [0x340, 0x341, 0x342, 0x343, 0x305, 0x300, 0x304, 0x301, 0xF14]  # writable ones and read-only ones


def _random_csr_program(rng: random.Random, length: int) -> list[int]:
    words = []
    for _ in range(length):
        rd, rs1 = rng.choice([0, 5, 6, 7, 8]), rng.choice([0, 5, 6, 7, 8, 31])
        if rng.random() < 0.5:
            op = rng.choice(list(_CSR_F3))
            csr = rng.choice(_PLAIN_CSRS)
            if csr in (0x301, 0xF14):
                op = rng.choice(["csrrs", "csrrc", "csrrsi", "csrrci"])
                rs1 = 0  # read only: a write traps (test_a_write_to_a_read_only_csr_in_line_traps_exactly)
            words.append(_csr(_CSR_F3[op], rd, rs1, csr))
        else:
            words.append(encode(rng.choice(["addi", "xori", "ori"]), rd or 5, rs1, 0, rng.randrange(-2048, 2048)))
    return words


@pytest.mark.parametrize("seed", range(12))
def test_csr_instructions_run_in_line_in_blocks_as_they_run_alone(seed: int) -> None:
    """Translated blocks run CSR accesses in line (actors.cpu.translate.
    inline_csr); single steps and interpreted code run each alone. Random
    mixes of CSR and ALU instructions leave the same registers and CSRs
    either way, rd equal to rs1 and x0 included."""
    rng = random.Random(seed)
    program = _random_csr_program(rng, 40)
    regs = [0] + [rng.getrandbits(32) for _ in range(31)]
    outcomes = []
    for mode in ("blocks", "interpreted", "steps"):
        m = Machine(ram_size=1 << 20)
        if mode == "blocks":
            m.translator.hot = 1
        m.bus.write_ram(RAM_BASE, b"".join(w.to_bytes(4, "little") for w in program + [0x0000006F]))  # then j .
        m.regs[:] = regs
        m.hart.mstatus &= ~0x8  # no interrupt may be taken: nothing is pending anyway
        m.pc = RAM_BASE
        for n in range(1, len(program) + 1) if mode == "steps" else []:
            m.run(n)
        m.run(1000)
        h = m.hart
        outcomes.append((list(m.regs), m.pc, h.mscratch, h.mepc, h.mcause, h.mtval, h.mtvec, h.mie, h.mstatus))
        if mode == "blocks":
            sizes = [block.size for block in m.translator.blocks.values()]  # type: ignore[attr-defined]
            assert max(sizes) == len(program) + 1, f"CSR instructions ended blocks: sizes {sizes}"  # + the j .
    assert outcomes[0] == outcomes[1] == outcomes[2]


@pytest.mark.parametrize("mode", ["blocks", "interpreted", "steps"])
def test_a_csr_write_in_line_that_makes_an_interrupt_due_stops_right_after_it_with_rd_written(mode: str) -> None:
    from actors.cpu.hart import MIP_MEIP, MIP_MSIP, MSTATUS_MIE
    from actors.cpu.isa import MACHINE_EXTERNAL_INTERRUPT

    m = Machine(ram_size=1 << 20)
    if mode == "blocks":
        m.translator.hot = 1
    handler = RAM_BASE + 0x400
    m.bus.write_ram(handler, (0x0000006F).to_bytes(4, "little"))  # j .
    m.hart.mtvec, m.hart.mie = handler, MIP_MSIP
    m.hart.mstatus |= MSTATUS_MIE
    m.plic.priority[1], m.plic.enabled = 1, 1 << 1
    m.plic.set_level(1, True)  # deliverable, but masked by mie until the csrrw
    program = [encode("addi", 5, 0, 0, MIP_MEIP), _csr(1, 6, 5, 0x304), encode("addi", 7, 0, 0, 1)]
    m.bus.write_ram(RAM_BASE, b"".join(w.to_bytes(4, "little") for w in program))
    m.pc = RAM_BASE
    run_in_mode(m, mode, 3)
    assert (m.hart.mcause, m.hart.mepc, m.pc) == (MACHINE_EXTERNAL_INTERRUPT, RAM_BASE + 8, handler)
    assert m.regs[6] == MIP_MSIP and m.regs[7] == 0 and m.hart.mie == MIP_MEIP


def _beq_back(rs1: int, offset: int) -> int:
    o = offset & 0x1FFF
    return (((o >> 12) & 1) << 31) | (((o >> 5) & 0x3F) << 25) | (rs1 << 15) | (((o >> 1) & 0xF) << 8) | (
        ((o >> 11) & 1) << 7) | 0x63  # beq rs1, x0, offset


def _bne_back(rs1: int, offset: int) -> int:
    return _beq_back(rs1, offset) | (1 << 12)


def _three_modes(program: list[int], setup=lambda m: None, limit: int = 5000) -> list[Machine]:
    out = []
    for mode in ("blocks", "interpreted", "steps"):
        m = Machine(ram_size=1 << 20)
        if mode == "blocks":
            m.translator.hot = 1
        m.bus.write_ram(RAM_BASE, b"".join(w.to_bytes(4, "little") for w in program))
        setup(m)
        m.pc = RAM_BASE
        run_in_mode(m, mode, 299, limit)  # in "steps", exact stops all along
        out.append(m)
    return out


def test_a_timer_polled_through_mip_is_seen_at_the_same_icount_in_every_mode() -> None:
    """mip's timer bit moves with icount, so mip is read where icount is
    exact (alone in its block), never from the middle of one: a block sees
    icount as it stood at its start. (A poll loop with interrupts off is a
    plain delay loop.)"""
    loop = [encode("addi", 7, 7, 0, 1), _csr(2, 5, 0, 0x344), encode("andi", 5, 5, 0, 128), _beq_back(5, -12),
            0x0000006F]  # loop: x7 += 1; x5 = mip & MTIP; until set; then j .

    def timer_at_100(m: Machine) -> None:
        m.clint.mtimecmp = 100

    runs = _three_modes(loop, timer_at_100)
    assert [m.regs[7] for m in runs] == [26, 26, 26]


def test_csr_accesses_in_a_loop_block_count_like_single_steps() -> None:
    program = [encode("addi", 7, 0, 0, 100),
               _csr(2, 6, 0, 0x340), encode("addi", 6, 6, 0, 3), _csr(1, 0, 6, 0x340),  # mscratch += 3
               encode("addi", 7, 7, 0, -1), _bne_back(7, -16), 0x0000006F]
    runs = _three_modes(program)
    assert [m.hart.mscratch for m in runs] == [300] * 3
    assert len({(tuple(m.regs), m.icount[0], m.pc) for m in runs}) == 1


def test_a_write_to_a_read_only_csr_in_line_traps_exactly() -> None:
    """Illegal instruction at the csr instruction itself: mepc names it,
    mtval holds its bits (as for any illegal instruction), rd keeps its
    value, the next instruction does not run."""
    handler = RAM_BASE + 0x400
    program = [encode("addi", 5, 0, 0, 7), encode("addi", 6, 0, 0, 9), _csr(1, 6, 5, 0xF14),  # csrw mhartid
               encode("addi", 8, 0, 0, 1)]

    def trap_to_handler(m: Machine) -> None:
        m.bus.write_ram(handler, (0x0000006F).to_bytes(4, "little"))
        m.hart.mtvec = handler

    for m in _three_modes(program, trap_to_handler):
        assert (m.hart.mcause, m.hart.mepc, m.hart.mtval, m.pc) == (2, RAM_BASE + 8, program[2], handler)
        assert m.regs[6] == 9 and m.regs[8] == 0


def _branch(op: str, rs1: int, rs2: int, offset: int) -> int:
    f3 = {"beq": 0, "bne": 1, "blt": 4, "bge": 5, "bltu": 6, "bgeu": 7}[op]
    o = offset & 0x1FFF
    return (((o >> 12) & 1) << 31) | (((o >> 5) & 0x3F) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (
        ((o >> 1) & 0xF) << 8) | (((o >> 11) & 1) << 7) | 0x63


def test_a_base_register_that_served_an_access_is_not_reduced_after_a_small_step() -> None:
    """lw x5, 0(x10); addi x10, x10, 4; bne x10, x11, loop: x10 served a
    load that did not trap, so it is below RAM's end + 2 KiB, and so is
    x10 + 4; the compare that closes the loop reduces nothing (it reduced
    x10 every round). With RAM up to the top of the address space, it must."""
    from actors.cpu import isa
    from actors.cpu.translate import _RegionWriter

    words = [encode("lw", 5, 10, 0, 0), encode("addi", 10, 10, 0, 4), _branch("bne", 10, 11, -8)]
    block = [(RAM_BASE + 4 * i, isa.decode(w), w) for i, w in enumerate(words)]
    reduced = ("r10 &= 0xFFFFFFFF", "r10 = (r10 + 4) & 0xFFFFFFFF")
    assert not any(line in _RegionWriter([(block, None)], 16 << 20).source() for line in reduced)
    assert any(line in _RegionWriter([(block, None)], 2048 << 20).source() for line in reduced)


def test_a_value_reduced_right_after_it_is_made_is_made_reduced() -> None:
    """mul x7, x7, x1 then add x10, x10, x7 with x10 unreduced: the product
    is reduced for the sum, in the line that makes it."""
    from actors.cpu import isa
    from actors.cpu.translate import _RegionWriter

    words = [encode("add", 10, 10, 10, 0), encode("mul", 7, 7, 1, 0), encode("add", 10, 10, 7, 0)]
    block = [(RAM_BASE + 4 * i, isa.decode(w), w) for i, w in enumerate(words)]
    source = _RegionWriter([(block, None)], 16 << 20).source()
    assert "r7 = (r7 * r1) & 0xFFFFFFFF\n" in source and "r7 &= 0xFFFFFFFF" not in source, source


def _region_program() -> list[int]:
    """An outer loop around an inner loop and a call: a region of several
    blocks (the outer body, the inner loop, the return point) in which
    values wrap around 2**32 both ways. x17 (read in the inner loop) and
    x13 (read at the return point) step through memory: either may run
    past the end of RAM and fault."""
    return [
        encode("addi", 5, 0, 0, 0),       # 0x00 outer: i = 0
        encode("addi", 6, 0, 0, -1),      # 0x04 x6 = -1
        encode("add", 7, 7, 6, 0),        # 0x08 inner: x7 += -1 (wraps below zero)
        encode("sub", 8, 8, 5, 0),        # 0x0c x8 -= i
        encode("mul", 9, 7, 8, 0),        # 0x10 x9 = x7 * x8 (overflows)
        encode("lw", 18, 17, 0, 0),       # 0x14 a load in the loop
        encode("lw", 19, 21, 0, 0),       # 0x18 mtime: icount exactly, in the middle of a round
        encode("add", 22, 22, 19, 0),     # 0x1c
        encode("add", 15, 15, 9, 0),      # 0x20 x15 += x9 (an unreduced sum would show)
        encode("addi", 17, 17, 0, 4),     # 0x24
        encode("addi", 5, 5, 0, 1),       # 0x28 i += 1
        _branch("bne", 5, 11, -0x24),     # 0x2c until i == x11: back to 0x08
        _jal(1, 0x1C),                    # 0x30 call 0x4c
        encode("lw", 12, 13, 0, 0),       # 0x34 return point: a load
        encode("addi", 13, 13, 0, 4),     # 0x38
        encode("slli", 16, 15, 0, 3),     # 0x3c
        encode("addi", 14, 14, 0, -1),    # 0x40
        _branch("bne", 14, 0, -0x44),     # 0x44 outer loop: back to 0x00
        0x0000006F,                       # 0x48 j .
        encode("sw", 0, 10, 9, 0),        # 0x4c callee: *x10 = x9
        encode("addi", 10, 10, 0, 4),     # 0x50 x10 += 4
        0x00008067,                       # 0x54 ret (jalr x0, 0(ra))
    ]


@pytest.mark.parametrize("stops", [(), (150, 300, 450)], ids=["run-through", "stopped-in-loops"])
@pytest.mark.parametrize("fault", ["none", "in-the-loop", "at-the-return-point"])
def test_a_region_of_loops_and_calls_runs_as_single_steps_do(fault: str, stops: tuple[int, ...]) -> None:
    """Blocks compiled into one region (labels, a loop label, a return
    through jalr found among them, values left unreduced between
    instructions) end in the same registers, memory, icount and trap as
    the same code interpreted and stepped one instruction at a time, and
    show the same registers at stops that cut a compiled loop short."""
    handler = RAM_BASE + 0x800
    ram = 1 << 20
    end = RAM_BASE + ram

    def setup(m: Machine) -> None:
        m.bus.write_ram(handler, _csr(2, 20, 0, 0xB02).to_bytes(4, "little")  # csrr x20, minstret
                        + (0x0000006F).to_bytes(4, "little"))  # j .
        m.hart.mtvec = handler
        m.regs[7], m.regs[8], m.regs[15] = 3, 0x7FFFFFF0, 0xFFFFFF00
        m.regs[10], m.regs[11], m.regs[14], m.regs[21] = DATA, 9, 5, 0x0200BFF8
        m.regs[13] = end - 8 if fault == "at-the-return-point" else DATA + 0x100
        # x17: 22 loads fit, so the third round's fifth faults.
        m.regs[17] = end - 4 * 22 if fault == "in-the-loop" else DATA + 0x200

    runs, seen = [], []
    for mode in ("blocks", "interpreted", "steps"):
        m = Machine(ram_size=ram)
        if mode == "blocks":
            m.translator.hot = 2  # a run interpreted first, so the region knows where its exits lead
        m.bus.write_ram(RAM_BASE, b"".join(w.to_bytes(4, "little") for w in _region_program()))
        setup(m)
        m.pc = RAM_BASE
        at_stops = []
        for stop in (range(1, 2001) if mode == "steps" else (*stops, 2000)):
            m.run(stop)
            if stop in stops:
                at_stops.append((stop, m.pc, tuple(m.regs)))
        runs.append(m)
        seen.append(at_stops)
    labels = runs[0].translator.blocks[RAM_BASE].__globals__["LBL"]
    assert len(labels) >= 3, f"the code did not run as a region of several blocks: labels at {labels}"
    assert seen[0] == seen[1] == seen[2]
    states = [(tuple(m.regs), m.icount[0], m.pc, m.hart.mepc, m.hart.mcause, m.hart.mtval,
               bytes(m.bus.ram[DATA - RAM_BASE:DATA - RAM_BASE + 64])) for m in runs]
    assert states[0] == states[1] == states[2], "\n".join(map(str, states))
    m = runs[2]
    if fault == "none":
        assert m.pc == RAM_BASE + 0x48 and m.regs[14] == 0
    elif fault == "in-the-loop":
        assert (m.hart.mcause, m.hart.mepc, m.hart.mtval) == (5, RAM_BASE + 0x14, end)
        assert m.regs[14] == 3 and m.regs[5] == 4  # the third outer round, its fifth inner one
    else:
        assert (m.hart.mcause, m.hart.mepc, m.hart.mtval) == (5, RAM_BASE + 0x34, end)
        assert m.regs[14] == 3  # two outer rounds done before the third one's load faulted
