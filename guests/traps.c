/*
 * traps: exceptions, interrupts and the trap CSRs, in this order:
 *   1 ecall        mcause 11, mepc = the ecall, mtval 0; registers survive
 *   2 ebreak       mcause 3, mepc = the ebreak, mtval = its pc (or 0)
 *   3 illegal      the all-zero word: mcause 2, mepc, mtval = 0
 *   4 illegal csr  csrr of the unimplemented CSR 0x7c0: mcause 2, mepc,
 *                  mtval = the instruction bits (or 0)
 *   5 timer        mtimecmp = mtime + 5000, MTIE + MIE, wfi until the
 *                  handler saw mcause 0x80000007; inside the handler MIE
 *                  is 0, MPIE is 1 and MPP is M; the handler pushes
 *                  mtimecmp to the maximum so it fires once
 *   6 mscratch     write / read / swap
 *   7 mret         to a chosen mepc with MPIE = 1: lands there with MIE = 1
 *   8 masked timer a pending timer (mtimecmp = 0) with MIE = 0 shows in
 *                  mip.MTIP but is not taken; setting MIE takes it
 * Each check prints "<name> ok"; the exit code is the number of the first
 * failing check (0 if all pass).  No time value is printed or relied on.
 */
#include "rt.h"

#define WFI_INSN 0x10500073u

/* What the handler saw at the last trap. */
static volatile uint32_t trap_count;
static volatile uint32_t trap_mcause;
static volatile uint32_t trap_mepc;
static volatile uint32_t trap_mtval;
static volatile uint32_t trap_mstatus;
static volatile uint32_t trap_s2;       /* callee-saved s2 at the trap */

static void handler(struct trap_frame *f)
{
    trap_count++;
    trap_mcause = f->mcause;
    trap_mepc = f->mepc;
    trap_mtval = f->mtval;
    trap_mstatus = f->mstatus;
    trap_s2 = f->regs[18];
    if (f->mcause & 0x80000000u) {
        /*
         * Interrupt: mepc is the next instruction to run.  If that is the
         * wfi of a "while (!seen) wfi;" loop (the interrupt came between
         * the test and the wfi), step over it: the wfi would otherwise
         * wait for an interrupt that has already been taken.
         */
        if (*(const uint32_t *)f->mepc == WFI_INSN)
            f->mepc += 4;
        /* Disarm the timer so it fires once. */
        if (f->mcause == MCAUSE_M_TIMER) {
            rt_set_mtimecmp(~(uint64_t)0);
            csr_clear(mie, MIE_MTIE);
        }
    } else {
        rt_skip_insn(f);                /* resume after the instruction */
    }
    /* The ecall check also wants to see a register changed through the
     * frame; only there is s2 known to be free (do_ecall clobbers it). */
    if (f->mcause == MCAUSE_ECALL_M)
        f->regs[18] = 0x5eed0000u + trap_count;
}

/* Trap triggers: each a global label on the trapping instruction so that
 * mepc can be compared with its address (noipa: the asm, and so the
 * label, must not be duplicated by inlining or cloning). */
extern const char ecall_insn[], ebreak_insn[], zero_insn[], csr7c0_insn[];
extern const char mret_target[];

/* Runs ecall with s2 = in; returns a0 as it was after the trap and, in
 * *s2_out, s2 as it was after the trap (the handler changes it through
 * the frame). */
static __attribute__((noipa)) uint32_t do_ecall(uint32_t in, uint32_t *s2_out)
{
    register uint32_t a0 __asm__("a0") = 0xa0a0a0a0u;
    register uint32_t a1 __asm__("a1") = in;
    uint32_t s2v;

    __asm__ volatile (
        "    mv    s2, %2\n"
        ".globl ecall_insn\n"
        "ecall_insn:\n"
        "    ecall\n"
        "    mv    %1, s2\n"
        : "+r"(a0), "=r"(s2v)
        : "r"(a1)
        : "s2", "memory");
    *s2_out = s2v;
    return a0;
}

static __attribute__((noipa)) void do_ebreak(void)
{
    __asm__ volatile (".globl ebreak_insn\nebreak_insn:\n    ebreak" ::: "memory");
}

static __attribute__((noipa)) void do_zero_insn(void)
{
    __asm__ volatile (".globl zero_insn\nzero_insn:\n    .word 0x00000000" ::: "memory");
}

static __attribute__((noipa)) uint32_t do_csr7c0(void)
{
    uint32_t v = 0x7c07c0u;

    __asm__ volatile (".globl csr7c0_insn\ncsr7c0_insn:\n    csrr %0, 0x7c0"
                      : "+r"(v) :: "memory");
    return v;
}

/* mret to mret_target with MPP = M and MPIE = 1: returns mstatus there. */
static __attribute__((noipa)) uint32_t do_mret(void)
{
    uint32_t ms;

    __asm__ volatile (
        "    la    t0, mret_target\n"
        "    csrw  mepc, t0\n"
        "    li    t0, 0x1880\n"              /* MPP = M, MPIE = 1 */
        "    csrs  mstatus, t0\n"
        "    li    t0, 0x8\n"                 /* MIE = 0 before */
        "    csrc  mstatus, t0\n"
        "    mret\n"
        "    j     .\n"                        /* never reached */
        ".globl mret_target\n"
        "mret_target:\n"
        "    csrr  %0, mstatus\n"
        : "=r"(ms) :: "t0", "memory");
    return ms;
}

static int first_failure;

/* Record the result of check `n`; print "<name> ok" when it passed. */
static void report(int n, const char *name, int ok)
{
    if (ok) {
        rt_puts(name);
        rt_puts(" ok\n");
    } else {
        rt_puts(name);
        rt_puts(" FAILED\n");
        if (!first_failure)
            first_failure = n;
    }
}

static void reset_trap_record(void)
{
    trap_count = 0;
    trap_mcause = trap_mepc = trap_mtval = trap_mstatus = 0xffffffffu;
}

int main(void)
{
    uint32_t s2_after, a0, v;
    int ok;

    rt_set_trap_handler(handler);

    /* 1: ecall */
    reset_trap_record();
    a0 = do_ecall(0x12345678u, &s2_after);
    ok = trap_count == 1 && trap_mcause == MCAUSE_ECALL_M &&
         trap_mepc == (uint32_t)ecall_insn && trap_mtval == 0 &&
         trap_s2 == 0x12345678u &&               /* the frame saw s2 */
         s2_after == 0x5eed0001u &&              /* the frame's s2 came back */
         a0 == 0xa0a0a0a0u;                      /* other registers intact */
    report(1, "ecall", ok);

    /* 2: ebreak */
    reset_trap_record();
    do_ebreak();
    ok = trap_count == 1 && trap_mcause == MCAUSE_BREAKPOINT &&
         trap_mepc == (uint32_t)ebreak_insn &&
         (trap_mtval == (uint32_t)ebreak_insn || trap_mtval == 0);
    report(2, "ebreak", ok);

    /* 3: illegal instruction, the all-zero word */
    reset_trap_record();
    do_zero_insn();
    ok = trap_count == 1 && trap_mcause == MCAUSE_ILLEGAL_INSN &&
         trap_mepc == (uint32_t)zero_insn && trap_mtval == 0;
    report(3, "illegal instruction", ok);

    /* 4: illegal instruction, unimplemented CSR 0x7c0 (rd not written) */
    reset_trap_record();
    v = do_csr7c0();
    ok = trap_count == 1 && trap_mcause == MCAUSE_ILLEGAL_INSN &&
         trap_mepc == (uint32_t)csr7c0_insn &&
         (trap_mtval == *(const uint32_t *)csr7c0_insn || trap_mtval == 0) &&
         v == 0x7c07c0u;
    report(4, "illegal csr", ok);

    /* 5: machine timer interrupt */
    reset_trap_record();
    rt_set_mtimecmp(rt_mtime() + 5000);
    csr_set(mie, MIE_MTIE);
    csr_set(mstatus, MSTATUS_MIE);
    while (trap_count == 0)
        __asm__ volatile ("wfi");
    csr_clear(mstatus, MSTATUS_MIE);
    ok = trap_count == 1 && trap_mcause == MCAUSE_M_TIMER &&
         (trap_mstatus & MSTATUS_MIE) == 0 &&
         (trap_mstatus & MSTATUS_MPIE) != 0 &&
         (trap_mstatus & MSTATUS_MPP) == MSTATUS_MPP &&
         (csr_read(mie) & MIE_MTIE) == 0 &&        /* the handler disarmed it */
         (csr_read(mip) & MIP_MTIP) == 0;          /* mtimecmp = max */
    report(5, "timer interrupt", ok);

    /* 6: mscratch */
    csr_write(mscratch, 0xfeedf00du);
    v = csr_swap(mscratch, 0x0badcafeu);
    ok = v == 0xfeedf00du && csr_read(mscratch) == 0x0badcafeu;
    report(6, "mscratch", ok);

    /* 7: mret */
    reset_trap_record();
    v = do_mret();
    csr_clear(mstatus, MSTATUS_MIE);
    ok = (v & MSTATUS_MIE) != 0 &&               /* MIE = old MPIE */
         (v & MSTATUS_MPIE) != 0 &&              /* MPIE set by mret */
         trap_count == 0;
    report(7, "mret", ok);

    /* 8: a pending timer is held off by mstatus.MIE = 0 */
    reset_trap_record();
    csr_clear(mstatus, MSTATUS_MIE);
    rt_set_mtimecmp(0);                          /* due at once */
    csr_set(mie, MIE_MTIE);
    while ((csr_read(mip) & MIP_MTIP) == 0)
        ;
    ok = trap_count == 0;                        /* pending, not taken */
    csr_set(mstatus, MSTATUS_MIE);               /* now it is taken */
    while (trap_count == 0)
        __asm__ volatile ("wfi");
    csr_clear(mstatus, MSTATUS_MIE);
    ok = ok && trap_count == 1 && trap_mcause == MCAUSE_M_TIMER &&
         (csr_read(mip) & MIP_MTIP) == 0;
    report(8, "masked timer", ok);

    if (!first_failure)
        rt_puts("all traps ok\n");
    return first_failure;
}
