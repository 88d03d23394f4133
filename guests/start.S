/*
 * start.S - entry point and trap entry shared by every reel guest.
 *
 * _start: sets gp and sp, clears the bss, installs rt_trap_entry as the
 * trap vector (mtvec, direct mode), calls main() and hands its return value
 * to rt_exit() (0 -> pass, n -> fail with code n).
 *
 * rt_trap_entry: saves all registers and mepc/mcause/mtval/mstatus in a
 * struct trap_frame (see rt.h) on the current stack, calls the C function
 * trap_handler(frame), then restores mepc and mstatus from the frame (so a
 * handler may change them, e.g. mepc += 4 to skip a trapping instruction),
 * restores the registers (a handler may change them too) and returns with
 * mret.
 */

#define FRAME_SIZE   (36 * 4)   /* 32 registers + mepc, mcause, mtval, mstatus */
#define F_MEPC       (32 * 4)
#define F_MCAUSE     (33 * 4)
#define F_MTVAL      (34 * 4)
#define F_MSTATUS    (35 * 4)

    .file   "start.S"           /* stable ELF file symbol (reproducible builds) */

    .section .text.init, "ax", @progbits
    .globl _start
_start:
    /* gp must be loaded without relaxation (it would relax against itself). */
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop
    la      sp, __stack_top

    /* Clear the bss (word-aligned on both ends, see link.ld). */
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sw      zero, 0(t0)
    addi    t0, t0, 4
    j       1b
2:
    la      t0, rt_trap_entry
    csrw    mtvec, t0

    call    main
    tail    rt_exit             /* a0 = main's return value */

    .text
    .balign 4
    .globl rt_trap_entry
rt_trap_entry:
    addi    sp, sp, -FRAME_SIZE
    sw      x1,   1*4(sp)
    sw      x3,   3*4(sp)
    sw      x4,   4*4(sp)
    sw      x5,   5*4(sp)
    sw      x6,   6*4(sp)
    sw      x7,   7*4(sp)
    sw      x8,   8*4(sp)
    sw      x9,   9*4(sp)
    sw      x10, 10*4(sp)
    sw      x11, 11*4(sp)
    sw      x12, 12*4(sp)
    sw      x13, 13*4(sp)
    sw      x14, 14*4(sp)
    sw      x15, 15*4(sp)
    sw      x16, 16*4(sp)
    sw      x17, 17*4(sp)
    sw      x18, 18*4(sp)
    sw      x19, 19*4(sp)
    sw      x20, 20*4(sp)
    sw      x21, 21*4(sp)
    sw      x22, 22*4(sp)
    sw      x23, 23*4(sp)
    sw      x24, 24*4(sp)
    sw      x25, 25*4(sp)
    sw      x26, 26*4(sp)
    sw      x27, 27*4(sp)
    sw      x28, 28*4(sp)
    sw      x29, 29*4(sp)
    sw      x30, 30*4(sp)
    sw      x31, 31*4(sp)
    addi    t0, sp, FRAME_SIZE  /* sp as it was at the trap */
    sw      t0,   2*4(sp)
    sw      zero, 0*4(sp)       /* regs[0] reads as x0 */
    csrr    t0, mepc
    sw      t0, F_MEPC(sp)
    csrr    t0, mcause
    sw      t0, F_MCAUSE(sp)
    csrr    t0, mtval
    sw      t0, F_MTVAL(sp)
    csrr    t0, mstatus
    sw      t0, F_MSTATUS(sp)

    mv      a0, sp
    call    trap_handler

    lw      t0, F_MEPC(sp)
    csrw    mepc, t0
    lw      t0, F_MSTATUS(sp)
    csrw    mstatus, t0
    lw      x1,   1*4(sp)
    lw      x3,   3*4(sp)
    lw      x4,   4*4(sp)
    lw      x5,   5*4(sp)
    lw      x6,   6*4(sp)
    lw      x7,   7*4(sp)
    lw      x8,   8*4(sp)
    lw      x9,   9*4(sp)
    lw      x10, 10*4(sp)
    lw      x11, 11*4(sp)
    lw      x12, 12*4(sp)
    lw      x13, 13*4(sp)
    lw      x14, 14*4(sp)
    lw      x15, 15*4(sp)
    lw      x16, 16*4(sp)
    lw      x17, 17*4(sp)
    lw      x18, 18*4(sp)
    lw      x19, 19*4(sp)
    lw      x20, 20*4(sp)
    lw      x21, 21*4(sp)
    lw      x22, 22*4(sp)
    lw      x23, 23*4(sp)
    lw      x24, 24*4(sp)
    lw      x25, 25*4(sp)
    lw      x26, 26*4(sp)
    lw      x27, 27*4(sp)
    lw      x28, 28*4(sp)
    lw      x29, 29*4(sp)
    lw      x30, 30*4(sp)
    lw      x31, 31*4(sp)
    addi    sp, sp, FRAME_SIZE
    mret
