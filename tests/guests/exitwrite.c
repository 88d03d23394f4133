/*
 * exitwrite: starts a DMA write of 64 KiB to disk 0 and exits at once,
 * without waiting for its completion. Whatever the disk's timing, the
 * write was issued before the exit, so it is part of the disk's final
 * content (as when QEMU drains its block devices on exit). Built with
 * -DSPIN, it spins for good instead of exiting: a run bounded by
 * --max-instructions stops it with the write in flight.
 */
#include "rt.h"
#include "ata.h"

static uint8_t buf[65536] __attribute__((aligned(16)));
static struct ata_prd prd[4] __attribute__((aligned(8)));

int main(void)
{
    struct ata_drive d;
    if (ata_probe(&d, 0, 0) != ATA_OK)
        return 1;
    for (uint32_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 7 + 1);
    if (ata_prd_build(prd, 4, buf, sizeof buf) <= 0)
        return 2;
    ata_irq_enable(0);
    if (ata_dma_start(&d, 16, sizeof buf / 512, prd, 0, 1) != ATA_OK)
        return 3;
    rt_puts("write started\n");
#ifdef SPIN
    for (;;)
        __asm__ volatile("nop");
#endif
    return 0;
}
