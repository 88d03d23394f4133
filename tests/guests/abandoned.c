/* abandoned: WRITE DMA W of LBA 64 (abandoned by a software reset while
 * the disk still carries it out), READ DMA R of the same sectors (which
 * blkreplay holds behind W, in flight: abandoned too), then READ DMA C of
 * other sectors, waited for. Prints "C ok" or "C failed". The disk is
 * asked for W, R and C in that order, whenever W's completion comes:
 * tests/test_faults.py names C as the disk's third request. */
#include "rt.h"
#include "ata.h"

static uint8_t out[8 * 512] __attribute__((aligned(16)));
static uint8_t in[8 * 512] __attribute__((aligned(16)));
static uint8_t other[8 * 512] __attribute__((aligned(16)));
static struct ata_prd w_prd[4] __attribute__((aligned(8)));
static struct ata_prd r_prd[4] __attribute__((aligned(8)));
static struct ata_prd c_prd[4] __attribute__((aligned(8)));

int main(void)
{
    struct ata_drive d;

    if (ata_probe(&d, 0, 0) != ATA_OK)
        return 1;
    ata_prd_build(w_prd, 4, out, sizeof out);
    ata_prd_build(r_prd, 4, in, sizeof in);
    ata_prd_build(c_prd, 4, other, sizeof other);
    __asm__ volatile ("fence" ::: "memory");
    ata_irq_enable(0);
    if (ata_dma_start(&d, 64, 8, w_prd, 0, 1) != ATA_OK)
        return 2;
    ata_abandon(0);
    if (ata_dma_start(&d, 64, 8, r_prd, 0, 0) != ATA_OK)
        return 3;
    ata_abandon(0);
    if (ata_dma_start(&d, 1024, 8, c_prd, 0, 0) != ATA_OK)
        return 4;
    rt_puts(ata_wait(0) == ATA_OK ? "C ok\n" : "C failed\n");
    return 0;
}
