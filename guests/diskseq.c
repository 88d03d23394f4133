/*
 * diskseq: the disk benchmark's throughput half. Reads disk 0 (channel 0
 * master) from start to end in 1 MiB READ DMA EXT requests (16 PRD entries
 * of 64 KiB), four times over, polling the bus master for completion.
 * reel bench disk divides the bytes by the run's wall time. (Polling, not
 * wfi: measured, interrupt-driven reads ran at 434 MB/s against 470
 * polled, since a polled ide is awake when the completion comes.)
 */
#include "rt.h"
#include "ata.h"

#define CHUNK_SECTORS 2048u   /* 1 MiB */
#define PASSES 4u

/* Not cleared at start (link.ld's .noinit): every read overwrites it, and
 * clearing 1 MiB would add 786k instructions to the measured run. */
static uint8_t buf[1u << 20] __attribute__((section(".noinit"), aligned(65536)));
static struct ata_prd prd[32] __attribute__((aligned(8)));

int main(void)
{
    struct ata_drive d;
    if (ata_probe(&d, 0, 0) != ATA_OK)
        return 1;
    if (ata_prd_build(prd, 32, buf, sizeof buf) <= 0)
        return 2;
    uint32_t chunks = (uint32_t)(d.sectors / CHUNK_SECTORS);
    for (uint32_t pass = 0; pass < PASSES; pass++)
        for (uint32_t c = 0; c < chunks; c++)
            if (ata_dma_read(&d, (uint64_t)c * CHUNK_SECTORS, CHUNK_SECTORS, prd, 1) != ATA_OK)
                return 3;
    rt_puts("diskseq ");
    rt_put_udec(PASSES * chunks);
    rt_puts(" MiB\n");
    return 0;
}
