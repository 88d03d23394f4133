/*
 * rt.h - the small runtime shared by every reel guest (bare-metal RV32IM,
 * machine mode).  Addresses are those of QEMU's virt machine, which reel's
 * board copies.
 */
#ifndef REEL_RT_H
#define REEL_RT_H

#include <stddef.h>
#include <stdint.h>

/* ---- board addresses ---- */
#define RT_UART_BASE      0x10000000u   /* 16550: THR at +0, LSR at +5 */
#define RT_UART_LSR_THRE  0x20u
#define RT_EXIT_DEV       0x00100000u   /* 0x5555 pass, (code << 16) | 0x3333 fail */
#define RT_CLINT_MTIMECMP 0x02004000u   /* 64-bit, hart 0 */
#define RT_CLINT_MTIME    0x0200BFF8u   /* 64-bit, read-only */

/* ---- CSR bits ---- */
#define MSTATUS_MIE   (1u << 3)
#define MSTATUS_MPIE  (1u << 7)
#define MSTATUS_MPP   (3u << 11)
#define MIE_MTIE      (1u << 7)
#define MIE_MEIE      (1u << 11)
#define MIP_MTIP      (1u << 7)

#define MCAUSE_ILLEGAL_INSN  2u
#define MCAUSE_BREAKPOINT    3u
#define MCAUSE_ECALL_M       11u
#define MCAUSE_M_TIMER       0x80000007u

/* Exit code used by the default trap handler for a trap nobody expected.
 * Test numbers stay below it. */
#define RT_EXIT_UNEXPECTED_TRAP 255

/* CSR access; `csr` is a name or number the assembler understands. */
#define csr_read(csr) ({ uint32_t v_; \
    __asm__ volatile ("csrr %0, " #csr : "=r"(v_) :: "memory"); v_; })
#define csr_write(csr, val) \
    __asm__ volatile ("csrw " #csr ", %0" :: "rK"((uint32_t)(val)) : "memory")
#define csr_set(csr, val) \
    __asm__ volatile ("csrs " #csr ", %0" :: "rK"((uint32_t)(val)) : "memory")
#define csr_clear(csr, val) \
    __asm__ volatile ("csrc " #csr ", %0" :: "rK"((uint32_t)(val)) : "memory")
#define csr_swap(csr, val) ({ uint32_t v_; \
    __asm__ volatile ("csrrw %0, " #csr ", %1" \
                      : "=r"(v_) : "rK"((uint32_t)(val)) : "memory"); v_; })

static inline void mmio_write32(uint32_t addr, uint32_t v)
{
    *(volatile uint32_t *)addr = v;
}

static inline uint32_t mmio_read32(uint32_t addr)
{
    return *(volatile uint32_t *)addr;
}

/* ---- console ---- */
void rt_putc(char c);
void rt_puts(const char *s);        /* no newline added */
void rt_put_udec(uint32_t v);       /* unsigned decimal */
void rt_put_dec(int32_t v);         /* signed decimal */
void rt_put_hex(uint32_t v);        /* exactly 8 lower-case hex digits */

/* ---- exit ---- */
/* 0 -> pass (exit device 0x5555); 1..255 -> fail with that code. */
__attribute__((noreturn)) void rt_exit(int code);

/* ---- CLINT timer ---- */
uint64_t rt_mtime(void);
void rt_set_mtimecmp(uint64_t when);   /* glitch-free 64-bit write */

/* ---- traps ---- */
/* Filled by rt_trap_entry (start.S).  The handler may change regs[] and
 * mepc/mstatus: they are written back before mret. */
struct trap_frame {
    uint32_t regs[32];      /* x0..x31 at the trap (regs[0] = 0, regs[2] = sp) */
    uint32_t mepc;
    uint32_t mcause;
    uint32_t mtval;
    uint32_t mstatus;
};

typedef void (*rt_trap_fn)(struct trap_frame *);

/*
 * Called by rt_trap_entry for every trap.  rt.c has a weak default that
 * calls the function registered with rt_set_trap_handler() or, with none
 * registered, prints the trap and exits with RT_EXIT_UNEXPECTED_TRAP.
 * A guest may instead define its own trap_handler().
 */
void trap_handler(struct trap_frame *f);
void rt_set_trap_handler(rt_trap_fn fn);   /* NULL: back to the default */

/* Resume after the (32-bit) instruction that caused an exception. */
static inline void rt_skip_insn(struct trap_frame *f)
{
    f->mepc += 4;
}

/* Freestanding C may still call these (struct copies, zeroing). */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#endif
