/*
 * drives4: all four drive slots (channel 0/1, master/slave). On each drive
 * writes sectors 10..13 by PIO and 20..27 by DMA with a pattern of its own,
 * reads them back the other way (DMA, PIO), prints "drive N ok" or
 * "drive N FAIL", and exits with the number of failures.
 */
#include "rt.h"
#include "ata.h"

static uint8_t wbuf[8 * 512] __attribute__((aligned(4096)));
static uint8_t rbuf[8 * 512] __attribute__((aligned(4096)));
static struct ata_prd prd[2] __attribute__((aligned(8)));

static int exercise(struct ata_drive *d, int index)
{
    for (int w = 0; w < (int)sizeof wbuf; w++)
        wbuf[w] = (uint8_t)(w * 7 + index * 31 + 1);
    if (ata_pio_write(d, 10, 4, wbuf, index & 1) != ATA_OK)
        return 1;
    ata_prd_build(prd, 2, wbuf, sizeof wbuf);
    if (ata_dma_write(d, 20, 8, prd, 0) != ATA_OK)
        return 2;
    memset(rbuf, 0, sizeof rbuf);
    ata_prd_build(prd, 2, rbuf, 4 * 512);
    if (ata_dma_read(d, 10, 4, prd, 1) != ATA_OK || memcmp(rbuf, wbuf, 4 * 512))
        return 3;
    memset(rbuf, 0, sizeof rbuf);
    if (ata_pio_read(d, 20, 8, rbuf, 0) != ATA_OK || memcmp(rbuf, wbuf, sizeof wbuf))
        return 4;
    return 0;
}

int main(void)
{
    static struct ata_drive drives[4];
    int fails = 0;
    for (int i = 0; i < 4; i++) {  /* reel's order: ch0 master, ch1 master, ch0 slave, ch1 slave */
        int rc = ata_probe(&drives[i], i & 1, i >> 1);
        if (rc == ATA_OK)
            rc = exercise(&drives[i], i);
        rt_puts("drive ");
        rt_put_udec(i);
        rt_puts(rc == ATA_OK ? " ok\n" : " FAIL\n");
        fails += rc != ATA_OK;
    }
    return fails;
}
