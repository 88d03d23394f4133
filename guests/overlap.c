/*
 * overlap: a write and a read of the same sectors in flight at once.
 *
 * The IDE runs one command per channel, so the guest overlaps two the way
 * a driver can: it starts a WRITE DMA of 8 sectors, abandons it at once
 * (bus master stopped, software reset: the controller drops the command,
 * but the disk request is already on its way), and reads the same sectors
 * back with READ DMA. Which the disk serves first decides what the read
 * sees: per round the guest prints 'n' (the new pattern), 'o' (the
 * previous round's) or '?' (anything else), then a digest of all that was
 * read. With blkreplay, overlapping requests reach the disk in submission
 * order, so every round reads 'n' and a replay reads the same; straight
 * to a disk with random latency, some rounds read 'o'.
 *
 * Exit codes: 1 probe, 2 PRD table, 3 write start, 4 read start, 5 read.
 */
#include "rt.h"
#include "ata.h"

#define ROUNDS 32u
#define SECTORS 8u
#define LBA 2048u

static uint8_t out[SECTORS * 512] __attribute__((aligned(16)));
static uint8_t in[SECTORS * 512] __attribute__((aligned(16)));
static struct ata_prd wprd[4] __attribute__((aligned(8)));
static struct ata_prd rprd[4] __attribute__((aligned(8)));

static void fill(uint8_t *p, uint32_t round)
{
    for (uint32_t i = 0; i < sizeof out; i++)
        p[i] = (uint8_t)(round * 31u + i * 7u + (i >> 9));
}

static int same_as(const uint8_t *p, uint32_t round)
{
    for (uint32_t i = 0; i < sizeof in; i++)
        if (p[i] != (uint8_t)(round * 31u + i * 7u + (i >> 9)))
            return 0;
    return 1;
}

int main(void)
{
    struct ata_drive d;
    uint32_t digest = 2166136261u;   /* FNV-1a over everything read */

    if (ata_probe(&d, 0, 0) != ATA_OK)
        return 1;
    if (ata_prd_build(wprd, 4, out, sizeof out) <= 0 || ata_prd_build(rprd, 4, in, sizeof in) <= 0)
        return 2;
    ata_irq_enable(0);
    rt_puts("overlap ");
    for (uint32_t round = 1; round <= ROUNDS; round++) {
        fill(out, round);
        if (ata_dma_start(&d, LBA, SECTORS, wprd, 0, 1) != ATA_OK)
            return 3;
        ata_abandon(0);
        if (ata_dma_start(&d, LBA, SECTORS, rprd, 0, 0) != ATA_OK)
            return 4;
        if (ata_wait(0) != ATA_OK)
            return 5;
        rt_putc(same_as(in, round) ? 'n' : same_as(in, round - 1) ? 'o' : '?');
        for (uint32_t i = 0; i < sizeof in; i++)
            digest = (digest ^ in[i]) * 16777619u;
    }
    rt_puts("\noverlap digest ");
    rt_put_hex(digest);
    rt_putc('\n');
    return 0;
}
