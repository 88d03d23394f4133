/*
 * isa_csr: the Zicsr instructions (csrrw, csrrs, csrrc, csrrwi, csrrsi,
 * csrrci) on mscratch: old value returned, new value set/cleared, rd == rs1,
 * 5-bit immediates zero-extended, rs1 = x0 / uimm = 0 meaning "no write";
 * read-only CSRs: mhartid reads 0, reading it with csrrs/csrrc x0 or
 * csrrsi/csrrci 0 does not trap, while csrrw to mhartid or cycle, and
 * csrrsi with a non-zero immediate, raise an illegal-instruction trap
 * (mcause 2, mepc = the instruction, rd left unwritten); the counters
 * mcycle/minstret and their user shadows cycle/time/instret
 * (0xC00/0xC01/0xC02) are readable and do not go backwards (their values
 * are never printed); mtvec, mepc, mie and mstatus read back what was
 * written.  One line per group; exit code = number of the first failing test.
 */
#include "isa.h"

/* a3 = csr, expect exp. */
.macro EXPECT_CSR csr, exp
    csrr    a3, \csr
    EXPECT  \exp
.endm

/* Reset the trap record (count, mcause, mepc, mtval). */
.macro TRAP_RESET
    la      t1, trap_info
    sw      zero, 0(t1)
    sw      zero, 4(t1)
    sw      zero, 8(t1)
    sw      zero, 12(t1)
.endm

/* a3 = field `off` of the trap record. */
.macro TRAP_FIELD off
    la      t1, trap_info
    lw      a3, \off(t1)
.endm

/* The counter must not go backwards between two reads (compared modulo
 * 2^32, so a wrap of the low word in between is not a failure). */
.macro COUNTER_MONOTONIC csr
    TEST_NEXT
    csrr    a1, \csr
    csrr    a2, \csr
    sub     a3, a2, a1
    slt     a3, a3, x0          /* 1 if it went backwards */
    EXPECT  0
.endm

/* The counter must have advanced across a 1000-round loop. */
.macro COUNTER_ADVANCES csr
    TEST_NEXT
    csrr    a1, \csr
    li      a5, 1000
8809:
    addi    a5, a5, -1
    bnez    a5, 8809b
    csrr    a2, \csr
    sub     a3, a2, a1
    slt     a4, x0, a3          /* 1 if it advanced (modulo 2^32) */
    mv      a3, a4
    EXPECT  1
.endm

    .text
    .globl main
main:
    /* ---- register forms on mscratch ---- */
    TEST_NEXT                   /* csrw (csrrw x0) then csrr (csrrs x0) */
    li      a1, 0x12345678
    csrw    mscratch, a1
    EXPECT_CSR mscratch, 0x12345678
    TEST_NEXT                   /* csrrw returns the old value */
    li      a1, 0xdeadbeef
    csrrw   a3, mscratch, a1
    EXPECT  0x12345678
    TEST_NEXT
    EXPECT_CSR mscratch, 0xdeadbeef
    TEST_NEXT                   /* csrrs: old value, then old | rs1 */
    li      a1, 0x0000ffff
    csrrs   a3, mscratch, a1
    EXPECT  0xdeadbeef
    TEST_NEXT
    EXPECT_CSR mscratch, 0xdeadffff
    TEST_NEXT                   /* csrrc: old value, then old & ~rs1 */
    li      a1, 0xff00ff00
    csrrc   a3, mscratch, a1
    EXPECT  0xdeadffff
    TEST_NEXT
    EXPECT_CSR mscratch, 0x00ad00ff
    TEST_NEXT                   /* csrrs / csrrc with rs1 = x0: read only */
    csrrs   a3, mscratch, x0
    EXPECT  0x00ad00ff
    TEST_NEXT
    csrrc   a3, mscratch, x0
    EXPECT  0x00ad00ff
    TEST_NEXT
    EXPECT_CSR mscratch, 0x00ad00ff
    TEST_NEXT                   /* rd == rs1: a swap */
    li      a1, 0x55aa55aa
    csrrw   a1, mscratch, a1
    mv      a3, a1
    EXPECT  0x00ad00ff
    TEST_NEXT
    EXPECT_CSR mscratch, 0x55aa55aa
    TEST_NEXT                   /* csrrs with rd == rs1 */
    li      a1, 0x00000001
    csrrs   a1, mscratch, a1
    mv      a3, a1
    EXPECT  0x55aa55aa
    TEST_NEXT
    EXPECT_CSR mscratch, 0x55aa55ab
    TEST_NEXT                   /* csrw of x0 */
    csrw    mscratch, x0
    EXPECT_CSR mscratch, 0
    GROUP_OK "csrrw/csrrs/csrrc"

    /* ---- immediate forms: uimm is 5 bits, zero-extended ---- */
    TEST_NEXT
    li      a1, 0xffffffff
    csrw    mscratch, a1
    csrrwi  a3, mscratch, 31
    EXPECT  0xffffffff
    TEST_NEXT
    EXPECT_CSR mscratch, 0x1f
    TEST_NEXT
    csrrwi  a3, mscratch, 0x0a
    EXPECT  0x1f
    TEST_NEXT                   /* csrrsi: 0x0a | 0x15 */
    csrrsi  a3, mscratch, 0x15
    EXPECT  0x0a
    TEST_NEXT
    EXPECT_CSR mscratch, 0x1f
    TEST_NEXT                   /* csrrci: 0x1f & ~0x11 */
    csrrci  a3, mscratch, 0x11
    EXPECT  0x1f
    TEST_NEXT
    EXPECT_CSR mscratch, 0x0e
    TEST_NEXT                   /* uimm = 0: read only */
    csrrsi  a3, mscratch, 0
    EXPECT  0x0e
    TEST_NEXT
    csrrci  a3, mscratch, 0
    EXPECT  0x0e
    TEST_NEXT                   /* csrrci leaves the high bits alone */
    li      a1, 0x8000001f
    csrw    mscratch, a1
    csrci   mscratch, 0x10
    EXPECT_CSR mscratch, 0x8000000f
    TEST_NEXT                   /* csrwi of 0 */
    csrwi   mscratch, 0
    EXPECT_CSR mscratch, 0
    GROUP_OK "csrrwi/csrrsi/csrrci"

    /* ---- read-only CSRs ---- */
    TRAP_RESET
    TEST_NEXT
    csrr    a3, mhartid
    EXPECT  0
    TEST_NEXT
    li      a3, 0x777
    csrrc   a3, mhartid, x0
    EXPECT  0
    TEST_NEXT
    li      a3, 0x777
    csrrsi  a3, mhartid, 0
    EXPECT  0
    TEST_NEXT
    li      a3, 0x777
    csrrci  a3, mhartid, 0
    EXPECT  0
    TEST_NEXT                   /* none of those trapped */
    TRAP_FIELD 0
    EXPECT  0
    /* csrrw to mhartid: illegal instruction, rd not written */
    TEST_NEXT
    li      a1, 0x1234
    li      a3, 0x4321
1:  csrrw   a3, mhartid, a1
    mv      a5, a3
    TRAP_FIELD 0                /* one trap */
    EXPECT  1
    TEST_NEXT
    TRAP_FIELD 4                /* mcause */
    EXPECT  2
    TEST_NEXT
    TRAP_FIELD 8                /* mepc */
    la      a4, 1b
    EXPECT_A4
    TEST_NEXT
    mv      a3, a5
    EXPECT  0x4321
    TEST_NEXT                   /* csrrsi with uimm != 0 is a write: traps */
    TRAP_RESET
    li      a3, 0x4321
1:  csrrsi  a3, mhartid, 1
    mv      a5, a3
    TRAP_FIELD 4
    EXPECT  2
    TEST_NEXT
    TRAP_FIELD 8
    la      a4, 1b
    EXPECT_A4
    TEST_NEXT
    mv      a3, a5
    EXPECT  0x4321
    TEST_NEXT                   /* writing cycle (0xC00) traps */
    TRAP_RESET
1:  csrw    cycle, a1
    TRAP_FIELD 4
    EXPECT  2
    TEST_NEXT
    TRAP_FIELD 8
    la      a4, 1b
    EXPECT_A4
    GROUP_OK "read-only CSRs"

    /* ---- counters: readable, never backwards ---- */
    TRAP_RESET
    COUNTER_MONOTONIC mcycle
    COUNTER_MONOTONIC minstret
    COUNTER_MONOTONIC cycle
    COUNTER_MONOTONIC time
    COUNTER_MONOTONIC instret
    COUNTER_ADVANCES  mcycle
    COUNTER_ADVANCES  minstret
    COUNTER_ADVANCES  cycle
    COUNTER_ADVANCES  instret
    TEST_NEXT                   /* no read trapped */
    TRAP_FIELD 0
    EXPECT  0
    GROUP_OK "counters"

    /* ---- machine CSRs read back ---- */
    TEST_NEXT                   /* start.S installed rt_trap_entry */
    csrr    a3, mtvec
    la      a4, rt_trap_entry
    EXPECT_A4
    TEST_NEXT
    csrr    s0, mepc
    li      a1, 0x80001234
    csrw    mepc, a1
    EXPECT_CSR mepc, 0x80001234
    csrw    mepc, s0
    TEST_NEXT                   /* mie: MTIE and MEIE are writable */
    li      a1, 0x880
    csrs    mie, a1
    csrr    a3, mie
    and     a3, a3, a1
    EXPECT  0x880
    TEST_NEXT
    csrc    mie, a1
    csrr    a3, mie
    and     a3, a3, a1
    EXPECT  0
    TEST_NEXT                   /* mstatus.MPIE (MIE stays off) */
    csrsi   mstatus, 0          /* no-op form */
    li      a1, 0x80
    csrs    mstatus, a1
    csrr    a3, mstatus
    andi    a3, a3, 0x88
    EXPECT  0x80
    TEST_NEXT
    csrc    mstatus, a1
    csrr    a3, mstatus
    andi    a3, a3, 0x88
    EXPECT  0
    TEST_NEXT                   /* mstatus.MPP = M */
    li      a1, 0x1800
    csrs    mstatus, a1
    csrr    a3, mstatus
    and     a3, a3, a1
    EXPECT  0x1800
    GROUP_OK "machine CSRs"

    ISA_PASS

/*
 * Trap handler (overrides the runtime's weak default): counts the trap,
 * records mcause, mepc and mtval in trap_info and resumes after the
 * trapping instruction.  a0 = struct trap_frame * (see rt.h).
 */
    .globl trap_handler
trap_handler:
    la      t1, trap_info
    lw      t0, 0(t1)
    addi    t0, t0, 1
    sw      t0, 0(t1)
    lw      t0, 33*4(a0)        /* mcause */
    sw      t0, 4(t1)
    lw      t2, 32*4(a0)        /* mepc */
    sw      t2, 8(t1)
    lw      t0, 34*4(a0)        /* mtval */
    sw      t0, 12(t1)
    addi    t2, t2, 4
    sw      t2, 32*4(a0)
    ret

    ISA_FAIL_HANDLER

    .bss
    .balign 4
trap_info:  .space 16           /* count, mcause, mepc, mtval */
