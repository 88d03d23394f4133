/*
 * diskqd1: the disk benchmark's latency half. 2000 random 4 KiB reads from
 * disk 0 (channel 0 master) at queue depth 1, each a READ DMA completed by
 * its interrupt (wfi in between). reel bench disk divides the run's wall
 * time by the count. Exit code: 0, or the step that failed.
 */
#include "rt.h"
#include "ata.h"

#define READS 2000u
#define SECTORS_PER_READ 8u

static uint8_t buf[4096] __attribute__((aligned(16)));
static struct ata_prd prd[4] __attribute__((aligned(8)));

int main(void)
{
    struct ata_drive d;
    if (ata_probe(&d, 0, 0) != ATA_OK)
        return 1;
    if (ata_prd_build(prd, 4, buf, sizeof buf) <= 0)
        return 2;
    ata_irq_enable(0);
    uint32_t x = 2463534242u;   /* xorshift32: the same offsets every run */
    uint32_t blocks = (uint32_t)(d.sectors / SECTORS_PER_READ);
    for (uint32_t i = 0; i < READS; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        uint64_t lba = (uint64_t)(x % blocks) * SECTORS_PER_READ;
        if (ata_dma_start(&d, lba, SECTORS_PER_READ, prd, 0, 0) != ATA_OK)
            return 3;
        if (ata_wait(0) != ATA_OK)
            return 4;
    }
    rt_puts("diskqd1 2000 reads\n");
    return 0;
}
