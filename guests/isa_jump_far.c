/*
 * isa_jump_far: jal at the limits of its 21-bit offset, and FENCE.I.
 *
 * A guest image 1 MiB long would be wasteful, so the far code is written
 * at run time: a `jal t1, OFF` (encoded here) at address J and, at J + OFF,
 * a target `auipc a0, 0; jalr x0, 0(ra)` that reports its own address and
 * returns.  After a FENCE.I the guest calls J and checks that the target
 * ran (a0 == J + OFF) and that jal linked t1 = J + 4.  Offsets tried:
 * +1048572 (the largest with a 4-byte-aligned target; +1048574 would need
 * the C extension), -1048576 (the most negative), and a few with single
 * immediate bits set.  The same J is rewritten for each case, so each one
 * also checks that FENCE.I makes the new instruction visible.
 *
 * The far code lives 2..5 MiB into RAM, away from the image, its bss and
 * its stack (all in the first MiB).
 *
 * Then a plain self-modifying-code check: the `addi a0, x0, 1` of a
 * function in .text is patched to `addi a0, x0, 2`, FENCE.I, call: 2.
 *
 * One line per group; exit code = number of the first failing test.
 */
#include "rt.h"

#define RAM_BASE 0x80000000u

/* RISC-V encodings used here. */
#define REG_A0 10
#define REG_T1 6
#define REG_RA 1

static uint32_t enc_jal(uint32_t rd, int32_t off)
{
    uint32_t imm = (uint32_t)off;

    return (((imm >> 20) & 0x1) << 31) |
           (((imm >> 1) & 0x3ff) << 21) |
           (((imm >> 11) & 0x1) << 20) |
           (((imm >> 12) & 0xff) << 12) |
           (rd << 7) | 0x6f;
}

static uint32_t enc_auipc(uint32_t rd, uint32_t imm20)
{
    return (imm20 << 12) | (rd << 7) | 0x17;
}

static uint32_t enc_jalr(uint32_t rd, uint32_t rs1, int32_t off)
{
    return (((uint32_t)off & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x67;
}

static uint32_t enc_addi(uint32_t rd, uint32_t rs1, int32_t imm)
{
    return (((uint32_t)imm & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x13;
}

/*
 * Reference encodings made by the assembler (never executed), to check
 * enc_jal() against: jal t1, +1048572 / -1048576 / +2048 / -4.
 */
extern const uint32_t ref_jal[4];
__asm__(
    "    .section .rodata\n"
    "    .balign 4\n"
    "ref_jal:\n"
    "    jal t1, . + 1048572\n"
    "    jal t1, . - 1048576\n"
    "    jal t1, . + 2048\n"
    "    jal t1, . - 4\n"
    "    .text\n");
static const int32_t ref_jal_off[4] = { 1048572, -1048576, 2048, -4 };

/* int smc_func(void): returns 1 until patched. */
extern int smc_func(void);
__asm__(
    "    .text\n"
    "    .balign 4\n"
    "    .globl smc_func\n"
    "smc_func:\n"
    "    addi a0, x0, 1\n"
    "    ret\n");

static int failed_test;

static void check(int test, uint32_t got, uint32_t expected)
{
    if (failed_test || got == expected)
        return;
    failed_test = test;
    rt_puts("FAIL test ");
    rt_put_udec((uint32_t)test);
    rt_puts(": got 0x");
    rt_put_hex(got);
    rt_puts(" expected 0x");
    rt_put_hex(expected);
    rt_putc('\n');
}

static inline void fence_i(void)
{
    __asm__ volatile ("fence.i" ::: "memory");
}

/*
 * Write `jal t1, off` at j and the reporting target at j + off, FENCE.I,
 * call j.  Returns the target's a0; *link gets t1.
 */
static uint32_t run_far_jal(uint32_t j, int32_t off, uint32_t *link)
{
    volatile uint32_t *jal_at = (volatile uint32_t *)j;
    volatile uint32_t *target = (volatile uint32_t *)(j + (uint32_t)off);
    register uint32_t a0 __asm__("a0");
    register uint32_t t1 __asm__("t1");
    register uint32_t addr __asm__("a1") = j;

    target[0] = enc_auipc(REG_A0, 0);               /* a0 = its own pc */
    target[1] = enc_jalr(0, REG_RA, 0);             /* return */
    jal_at[0] = enc_jal(REG_T1, off);
    fence_i();
    __asm__ volatile ("jalr ra, 0(%2)"
                      : "=r"(a0), "=r"(t1)
                      : "r"(addr)
                      : "ra", "memory");
    *link = t1;
    return a0;
}

static void test_far_jal(int *test, uint32_t j, int32_t off)
{
    uint32_t link = 0;
    uint32_t landed = run_far_jal(j, off, &link);

    check(++*test, landed, j + (uint32_t)off);
    check(++*test, link, j + 4);
}

int main(void)
{
    int test = 0;

    /* ---- the jal encoder agrees with the assembler ---- */
    for (int i = 0; i < 4; i++)
        check(++test, enc_jal(REG_T1, ref_jal_off[i]), ref_jal[i]);
    if (failed_test)
        return failed_test;
    rt_puts("jal encoding ok\n");

    /* ---- jal at its limits ---- */
    test_far_jal(&test, RAM_BASE + 0x00200000u, 1048572);   /* +0xffffc */
    test_far_jal(&test, RAM_BASE + 0x00500000u, -1048576);  /* -0x100000 */
    if (failed_test)
        return failed_test;
    rt_puts("jal far ok\n");

    /* ---- single immediate fields: bit 11, bits 19:12, bit 20 ---- */
    test_far_jal(&test, RAM_BASE + 0x00300000u, 0x800);
    test_far_jal(&test, RAM_BASE + 0x00300000u, 0x7f000);
    test_far_jal(&test, RAM_BASE + 0x00300000u, -0x800);
    test_far_jal(&test, RAM_BASE + 0x00300000u, 0x12344);
    test_far_jal(&test, RAM_BASE + 0x00300000u, -0x55554);
    test_far_jal(&test, RAM_BASE + 0x00300000u, 4);
    if (failed_test)
        return failed_test;
    rt_puts("jal fields ok\n");

    /* ---- self-modifying code made visible by FENCE.I ---- */
    volatile uint32_t *insn = (volatile uint32_t *)(uintptr_t)smc_func;

    check(++test, (uint32_t)smc_func(), 1);
    check(++test, *insn, enc_addi(REG_A0, 0, 1));
    *insn = enc_addi(REG_A0, 0, 2);
    fence_i();
    check(++test, (uint32_t)smc_func(), 2);
    /* patch it ten more times, running it after each patch */
    uint32_t sum = 0;
    for (int32_t k = -5; k < 5; k++) {
        *insn = enc_addi(REG_A0, 0, k * 100);
        fence_i();
        sum += (uint32_t)smc_func();
    }
    check(++test, sum, (uint32_t)-500);
    if (failed_test)
        return failed_test;
    rt_puts("fence.i ok\n");
    return 0;
}
