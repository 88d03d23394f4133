/*
 * window: the IDE window forwarded to a stand-in device actor
 * (tests/actors_for_tests.py:WindowDevice). Checks that a read waits for
 * the device, that DMA the device does while the cpu waits lands in memory
 * before the read returns, that starting the bus master hands the device
 * the PRD table and the memory it points to, and that an interrupt the
 * device raises inside a read's window is taken right after that read.
 * Exit code = first failing check.
 */
#include "rt.h"

#define WIN     0x10001000u
#define PLIC    0x0C000000u
#define SCRATCH 0x80100000u

static volatile uint32_t ext_irqs, claimed;

static void on_trap(struct trap_frame *f)
{
    if (f->mcause != 0x8000000Bu)
        rt_exit(200);
    claimed = mmio_read32(PLIC + 0x200004);   /* claim */
    mmio_write32(WIN + 8, 0);                 /* posted: the device lowers its line... */
    (void)mmio_read32(WIN + 12);              /* ...which reaches us in this window */
    mmio_write32(PLIC + 0x200004, claimed);   /* complete */
    ext_irqs++;
}

int main(void)
{
    if (mmio_read32(WIN + 0) != 0x1234)
        return 1;
    if (*(volatile uint32_t *)SCRATCH != 0x21414d44u)      /* "DMA!" */
        return 2;
    *(volatile uint32_t *)(SCRATCH + 4) = 0xcafef00du;
    static volatile uint32_t prd[2] __attribute__((aligned(8)));
    prd[0] = SCRATCH + 4;                                   /* one entry: 4 bytes, end of table */
    prd[1] = 4u | (0x8000u << 16);
    mmio_write32(WIN + 0x204, (uint32_t)prd);
    mmio_write32(WIN + 0x200, 1);                           /* start, memory to device */
    if (mmio_read32(WIN + 16) != 0xcafef00du)
        return 3;
    if (mmio_read32(WIN + 20) != 0x21414d44u)   /* the device reads memory itself meanwhile */
        return 7;

    rt_set_trap_handler(on_trap);
    mmio_write32(PLIC + 4 * 1, 1);          /* priority of source 1 */
    mmio_write32(PLIC + 0x2000, 1u << 1);   /* enable source 1 */
    mmio_write32(PLIC + 0x200000, 0);       /* threshold */
    csr_set(mie, MIE_MEIE);
    csr_set(mstatus, MSTATUS_MIE);
    uint32_t before = ext_irqs;
    uint32_t value = mmio_read32(WIN + 4);  /* the device raises line 1 inside */
    uint32_t after = ext_irqs;              /* so the handler has run by now */
    if (value != 7)
        return 4;
    if (before != 0 || after != 1)
        return 5;
    if (claimed != 1)
        return 6;
    rt_puts("window ok\n");
    return 0;
}
