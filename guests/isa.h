/*
 * isa.h - assembler macros for the self-checking ISA guests (isa_*.S).
 *
 * Conventions, used by every test macro:
 *   s11  number of the current test (1..254); it becomes the exit code if
 *        the test fails (255 is the runtime's "unexpected trap").
 *   a3   the value a test produced, a4 the value it should have.
 *   a1, a2, a5  scratch operands.
 * A failing test jumps to isa_fail, which prints
 *   "FAIL test N: got 0x........ expected 0x........"
 * and exits with code N.  GROUP_OK prints "<name> ok" after a group of tests.
 * A guest's main never returns: it ends with ISA_PASS.
 *
 * Relaxation is off so that `la` is always auipc+addi, whatever gp holds
 * (some tests overwrite gp).
 *
 * .file names the ELF file symbol after the source; otherwise it would be
 * the driver's random temporary name and builds would not be reproducible.
 */
    .file   __BASE_FILE__
    .option norelax

    .set tnum, 0

/* Start the next test: bump the counter and put it in s11. */
.macro TEST_NEXT
    .set tnum, tnum + 1
    .if tnum > 254
    .error "more than 254 tests in one guest"
    .endif
    li      s11, tnum
.endm

/* Fail unless a3 == exp (a constant). */
.macro EXPECT exp
    li      a4, \exp
    beq     a3, a4, 8801f
    j       isa_fail            /* j reaches 1 MiB, a branch only 4 KiB */
8801:
.endm

/* Fail unless a3 == a4 (both computed by the test). */
.macro EXPECT_A4
    beq     a3, a4, 8801f
    j       isa_fail
8801:
.endm

/* Register-register op: a3 = v1 op v2, all three registers distinct. */
.macro TEST_RR op, exp, v1, v2
    TEST_NEXT
    li      a1, \v1
    li      a2, \v2
    \op     a3, a1, a2
    EXPECT  \exp
.endm

/* Same, with rd == rs1. */
.macro TEST_RR_D1 op, exp, v1, v2
    TEST_NEXT
    li      a3, \v1
    li      a2, \v2
    \op     a3, a3, a2
    EXPECT  \exp
.endm

/* Same, with rd == rs2. */
.macro TEST_RR_D2 op, exp, v1, v2
    TEST_NEXT
    li      a1, \v1
    li      a3, \v2
    \op     a3, a1, a3
    EXPECT  \exp
.endm

/* Same, with rd == rs1 == rs2. */
.macro TEST_RR_D12 op, exp, v
    TEST_NEXT
    li      a3, \v
    \op     a3, a3, a3
    EXPECT  \exp
.endm

/* Register-immediate op: a3 = v1 op imm. */
.macro TEST_IMM op, exp, v1, imm
    TEST_NEXT
    li      a1, \v1
    \op     a3, a1, \imm
    EXPECT  \exp
.endm

/* Same, with rd == rs1. */
.macro TEST_IMM_D1 op, exp, v1, imm
    TEST_NEXT
    li      a3, \v1
    \op     a3, a3, \imm
    EXPECT  \exp
.endm

/* Print "<name> ok\n" (name is a quoted string). */
.macro GROUP_OK name
    .pushsection .rodata.str1.1, "aMS", @progbits, 1
8802:
    .asciz  "\name ok\n"
    .popsection
    la      a0, 8802b
    call    rt_puts
.endm

/* All tests passed: exit 0. */
.macro ISA_PASS
    li      a0, 0
    tail    rt_exit
.endm

/* The failure report, emitted once per guest (after main). */
.macro ISA_FAIL_HANDLER
isa_fail:
    mv      s0, a3
    mv      s1, a4
    la      a0, isa_str_fail
    call    rt_puts
    mv      a0, s11
    call    rt_put_udec
    la      a0, isa_str_got
    call    rt_puts
    mv      a0, s0
    call    rt_put_hex
    la      a0, isa_str_expected
    call    rt_puts
    mv      a0, s1
    call    rt_put_hex
    li      a0, '\n'
    call    rt_putc
    mv      a0, s11
    tail    rt_exit

    .pushsection .rodata.str1.1, "aMS", @progbits, 1
isa_str_fail:     .asciz "FAIL test "
isa_str_got:      .asciz ": got 0x"
isa_str_expected: .asciz " expected 0x"
    .popsection
.endm
