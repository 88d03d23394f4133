/*
 * disktest: the ATA driver end to end on two disks, channel 0 master and
 * channel 1 master, 8 MiB each (larger ones work too; only the "identify"
 * lines print the size).  No slaves.
 *
 * First: channel 0 and channel 1 have no slave (probe: status 0x00).
 * Then on each disk in turn (check names start "disk0" / "disk1"):
 *   identify        IDENTIFY: checksum, LBA48 bits, capacity in words
 *                   60-61 and 100-103 agree, model string not empty
 *   set features    SET FEATURES 0x03 (transfer mode) with the fastest DMA
 *                   mode IDENTIFY offers (UDMA, else multiword, else PIO
 *                   default)
 *   writes, each region with its own pattern (see pattern()):
 *     A  PIO  WRITE SECTORS        LBA 16, 8 sectors
 *     B  PIO  WRITE SECTORS EXT    the last 8 sectors of the disk
 *     C  DMA  WRITE DMA            LBA 1000, 128 sectors, one PRD entry of
 *                                  64 KiB (byte count 0)
 *     D  DMA  WRITE DMA EXT        LBA 4660, 24 sectors, one PRD entry
 *     E  DMA  WRITE DMA            LBA 2048, 256 sectors (count register
 *                                  0), three PRD entries 64+32+32 KiB
 *                                  placed out of address order
 *     F  DMA  WRITE DMA EXT        LBA 10000, 300 sectors (count high byte
 *                                  1), three entries 64+64+22 KiB, out of
 *                                  address order
 *     G  DMA  WRITE DMA            LBA 200, 4 sectors through two entries
 *                                  of 1000 and 1048 bytes (an entry ends
 *                                  inside a sector)
 *   (DMA writes complete by polling the bus-master status)
 *   flush cache, flush cache ext
 *   reads, each with the other method (DMA reads are interrupt-driven):
 *     A  READ DMA EXT      one PRD entry
 *     B  READ DMA          two PRD entries of 2 KiB, out of address order
 *     E  READ DMA EXT      256 sectors through three entries out of
 *                          address order (E is read by PIO below too): a
 *                          read this large has its data go from the disk
 *                          straight to the cpu (Ide.Params.direct_reads)
 *     C  READ SECTORS EXT  128 sectors
 *     D  READ SECTORS      24
 *     E  READ SECTORS EXT  256 (count 0x0100)
 *     F  READ SECTORS      256 (count register 0), then 44 more
 *     G  READ SECTORS      4
 *   and every word compared with the pattern.
 *
 * One line per check ("<name> ok" or "<name> FAILED: ..."), then
 * "disktest checksum XXXXXXXX": a hash of every data word read, in order
 * (the same for any correct device, as the data are fixed).  Exit code:
 * the number of the first failing check, 0 if all pass.
 */
#include "rt.h"
#include "ata.h"

/*
 * DMA and PIO buffers: 1 MiB on a 64 KiB line.  The first half is the
 * write area, the second the read area.
 */
static uint8_t arena[1u << 20] __attribute__((aligned(0x10000)));
#define WAREA (arena)
#define RAREA (arena + 0x80000)

static struct ata_prd prd[8] __attribute__((aligned(8)));
static struct ata_drive drive[2];

static int check_no;            /* number of the current check */
static int first_failure;
static uint32_t checksum = 2166136261u;

/* ---- data patterns ---- */

/* Word w (0..127) of sector i of a region with this seed. */
static uint32_t pattern(uint32_t seed, uint32_t i, uint32_t w)
{
    uint32_t x = seed ^ (i * 0x9e3779b1u) ^ (w * 0x85ebca77u);

    x ^= x >> 15;
    x *= 0x2c1b3c6du;
    x ^= x >> 12;
    return x;
}

static uint32_t seed_of(int disk, char region)
{
    return 0x5eed0000u | ((uint32_t)disk << 8) | (uint8_t)region;
}

/*
 * Walk the data stream that a PRD table describes, word by word: fill it
 * with the pattern (fill = 1), or compare it with the pattern and hash it
 * into the checksum (fill = 0).  Returns the number of mismatching words.
 */
static uint32_t walk(const struct ata_prd *t, uint32_t seed, int fill)
{
    uint32_t offset = 0, bad = 0;

    for (int e = 0;; e++) {
        uint32_t bytes = t[e].bytes ? t[e].bytes : 0x10000u;
        uint32_t *p = (uint32_t *)(uintptr_t)t[e].addr;

        for (uint32_t k = 0; k < bytes / 4; k++, offset += 4) {
            uint32_t want = pattern(seed, offset / ATA_SECTOR, (offset % ATA_SECTOR) / 4);

            if (fill) {
                p[k] = want;
            } else {
                checksum = (checksum ^ p[k]) * 16777619u;
                bad += p[k] != want;
            }
        }
        if (t[e].flags & ATA_PRD_EOT)
            return bad;
    }
}

/* The same over a contiguous buffer. */
static uint32_t walk_buf(void *buf, uint32_t sectors, uint32_t seed, int fill)
{
    struct ata_prd t[8];

    ata_prd_build(t, 8, buf, sectors * ATA_SECTOR);
    return walk(t, seed, fill);
}

/* A PRD entry by hand. */
static void entry(int i, uint8_t *addr, uint32_t bytes, int last)
{
    prd[i].addr = (uint32_t)(uintptr_t)addr;
    prd[i].bytes = (uint16_t)bytes;            /* 0x10000 -> 0 */
    prd[i].flags = last ? ATA_PRD_EOT : 0;
}

/* ---- reporting ---- */

static void begin(int disk, const char *name)
{
    check_no++;
    if (disk >= 0) {
        rt_puts("disk");
        rt_put_udec((uint32_t)disk);
        rt_putc(' ');
    }
    rt_puts(name);
}

static int pass(void)
{
    rt_puts(" ok\n");
    return 1;
}

static int fail(const char *why)
{
    rt_puts(" FAILED: ");
    rt_puts(why);
    rt_putc('\n');
    if (!first_failure)
        first_failure = check_no;
    return 0;
}

static int fail_rc(const struct ata_drive *d, int rc)
{
    rt_puts(" FAILED: ");
    ata_print_result(d, rc);
    rt_putc('\n');
    if (!first_failure)
        first_failure = check_no;
    return 0;
}

static int result(const struct ata_drive *d, int rc)
{
    return rc ? fail_rc(d, rc) : pass();
}

/* A read has landed: compare it (and hash it). */
static int compared(const struct ata_drive *d, int rc, uint32_t bad)
{
    if (rc)
        return fail_rc(d, rc);
    if (bad) {
        rt_puts(" FAILED: ");
        rt_put_udec(bad);
        rt_puts(" words differ\n");
        if (!first_failure)
            first_failure = check_no;
        return 0;
    }
    return pass();
}

/* ---- the checks ---- */

static void absent(int channel)
{
    struct ata_drive d;
    int rc;

    begin(-1, channel ? "channel 1 slave absent" : "channel 0 slave absent");
    rc = ata_probe(&d, channel, 1);
    if (rc == ATA_E_NODEV)
        pass();
    else if (rc == ATA_OK)
        fail("a drive answered");
    else
        fail_rc(&d, rc);
}

static int identify(int disk)
{
    struct ata_drive *d = &drive[disk];
    int rc;

    begin(disk, "identify");
    rc = ata_probe(d, disk, 0);           /* disk 0: channel 0, disk 1: channel 1 */
    if (rc)
        return fail_rc(d, rc);
    if (!d->lba48)
        return fail("no LBA48 (words 83/86 bit 10)");
    if (d->sectors < 16384)
        return fail("disk smaller than 8 MiB");
    if (d->sectors28 != (d->sectors48 < 0x0fffffffu ? d->sectors48 : 0x0fffffffu))
        return fail("words 60-61 disagree with words 100-103");
    if (!d->model[0])
        return fail("empty model string");
    rt_puts(" ok (");
    rt_put_udec((uint32_t)d->sectors);
    rt_puts(" sectors)\n");
    return 1;
}

static void set_features(int disk)
{
    struct ata_drive *d = &drive[disk];
    uint8_t mode = 0x00;                  /* PIO default mode */
    uint16_t udma = d->id[88] & 0x7f, mwdma = d->id[63] & 0x07;

    if ((d->id[53] & 4) && udma) {        /* word 88 valid and some UDMA mode */
        mode = 0x40;
        while (udma >>= 1)
            mode++;
    } else if (mwdma) {
        mode = 0x20;
        while (mwdma >>= 1)
            mode++;
    }
    begin(disk, "set features");
    result(d, ata_set_features(d, ATA_FEAT_XFER_MODE, mode));
}

/* Regions (fixed LBAs; B is the last 8 sectors). */
#define A_LBA 16u
#define A_N   8u
#define B_N   8u
#define C_LBA 1000u
#define C_N   128u
#define D_LBA 4660u
#define D_N   24u
#define E_LBA 2048u
#define E_N   256u
#define F_LBA 10000u
#define F_N   300u
#define G_LBA 200u
#define G_N   4u

static void writes(int disk)
{
    struct ata_drive *d = &drive[disk];
    uint64_t b_lba = d->sectors - B_N;

    begin(disk, "pio write lba28");
    walk_buf(WAREA, A_N, seed_of(disk, 'A'), 1);
    result(d, ata_pio_write(d, A_LBA, A_N, WAREA, 0));

    begin(disk, "pio write lba48 last sectors");
    walk_buf(WAREA, B_N, seed_of(disk, 'B'), 1);
    result(d, ata_pio_write(d, b_lba, B_N, WAREA, 1));

    begin(disk, "dma write lba28 one prd 128 sectors");
    entry(0, WAREA, 0x10000, 1);
    walk(prd, seed_of(disk, 'C'), 1);
    result(d, ata_dma_write(d, C_LBA, C_N, prd, 0));

    begin(disk, "dma write lba48 one prd");
    entry(0, WAREA + 0x10000, D_N * ATA_SECTOR, 1);
    walk(prd, seed_of(disk, 'D'), 1);
    result(d, ata_dma_write(d, D_LBA, D_N, prd, 1));

    begin(disk, "dma write lba28 three prds 256 sectors");
    entry(0, WAREA + 0x40000, 0x10000, 0);
    entry(1, WAREA + 0x10000, 0x8000, 0);
    entry(2, WAREA + 0x00000, 0x8000, 1);
    walk(prd, seed_of(disk, 'E'), 1);
    result(d, ata_dma_write(d, E_LBA, E_N, prd, 0));

    begin(disk, "dma write lba48 three prds 300 sectors");
    entry(0, WAREA + 0x20000, 0x10000, 0);
    entry(1, WAREA + 0x50000, 0x10000, 0);
    entry(2, WAREA + 0x08000, F_N * ATA_SECTOR - 0x20000, 1);
    walk(prd, seed_of(disk, 'F'), 1);
    result(d, ata_dma_write(d, F_LBA, F_N, prd, 1));

    begin(disk, "dma write prd ending inside a sector");
    entry(0, WAREA + 0x3000, 1000, 0);
    entry(1, WAREA + 0x1000, G_N * ATA_SECTOR - 1000, 1);
    walk(prd, seed_of(disk, 'G'), 1);
    result(d, ata_dma_write(d, G_LBA, G_N, prd, 0));
}

static void flushes(int disk)
{
    begin(disk, "flush cache");
    result(&drive[disk], ata_flush(&drive[disk], 0));
    begin(disk, "flush cache ext");
    result(&drive[disk], ata_flush(&drive[disk], 1));
}

/* An interrupt-driven DMA read through prd[]. */
static int dma_read_irq(struct ata_drive *d, uint64_t lba, uint32_t n, int ext)
{
    int rc = ata_dma_start(d, lba, n, prd, ext, 0);

    return rc ? rc : ata_wait(d->channel);
}

static void reads(int disk)
{
    struct ata_drive *d = &drive[disk];
    uint64_t b_lba = d->sectors - B_N;
    int rc;

    memset(RAREA, 0xee, 0x26000);           /* no stale data can pass */

    ata_irq_enable(0);
    begin(disk, "dma read lba48 irq");
    entry(0, RAREA, A_N * ATA_SECTOR, 1);
    rc = dma_read_irq(d, A_LBA, A_N, 1);
    compared(d, rc, rc ? 0 : walk(prd, seed_of(disk, 'A'), 0));

    begin(disk, "dma read lba28 irq two prds");
    entry(0, RAREA + 0x10000, 0x800, 0);
    entry(1, RAREA + 0x0800, B_N * ATA_SECTOR - 0x800, 1);
    rc = dma_read_irq(d, b_lba, B_N, 0);
    compared(d, rc, rc ? 0 : walk(prd, seed_of(disk, 'B'), 0));

    begin(disk, "dma read lba48 irq 256 sectors three prds");
    memset(RAREA, 0xee, 0x20000);
    entry(0, RAREA + 0x8000, 0x10000, 0);
    entry(1, RAREA, 0x8000, 0);
    entry(2, RAREA + 0x18000, 0x8000, 1);
    rc = dma_read_irq(d, E_LBA, E_N, 1);
    compared(d, rc, rc ? 0 : walk(prd, seed_of(disk, 'E'), 0));
    ata_irq_disable();

    begin(disk, "pio read lba48 128 sectors");
    rc = ata_pio_read(d, C_LBA, C_N, RAREA, 1);
    compared(d, rc, rc ? 0 : walk_buf(RAREA, C_N, seed_of(disk, 'C'), 0));

    begin(disk, "pio read lba28");
    rc = ata_pio_read(d, D_LBA, D_N, RAREA, 0);
    compared(d, rc, rc ? 0 : walk_buf(RAREA, D_N, seed_of(disk, 'D'), 0));

    begin(disk, "pio read lba48 256 sectors");
    rc = ata_pio_read(d, E_LBA, E_N, RAREA, 1);
    compared(d, rc, rc ? 0 : walk_buf(RAREA, E_N, seed_of(disk, 'E'), 0));

    begin(disk, "pio read lba28 256+44 sectors");
    rc = ata_pio_read(d, F_LBA, 256, RAREA, 0);
    if (!rc)
        rc = ata_pio_read(d, F_LBA + 256, F_N - 256, RAREA + 256 * ATA_SECTOR, 0);
    compared(d, rc, rc ? 0 : walk_buf(RAREA, F_N, seed_of(disk, 'F'), 0));

    begin(disk, "pio read of split prd data");
    rc = ata_pio_read(d, G_LBA, G_N, RAREA, 0);
    compared(d, rc, rc ? 0 : walk_buf(RAREA, G_N, seed_of(disk, 'G'), 0));
}

int main(void)
{
    absent(0);
    absent(1);
    for (int disk = 0; disk < 2; disk++) {
        if (!identify(disk))
            continue;                      /* nothing else can work on it */
        set_features(disk);
        writes(disk);
        flushes(disk);
        reads(disk);
    }
    rt_puts("disktest checksum ");
    rt_put_hex(checksum);
    rt_putc('\n');
    return first_failure;
}
