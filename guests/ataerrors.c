/*
 * ataerrors: ATA error reporting, on one disk: channel 0 master (8 MiB;
 * any size from 16 sectors up to 128 GiB works).
 *
 * Checks, in this order:
 *    1 identify                     IDENTIFY DEVICE succeeds
 *    2 setup                        PIO write of a pattern to LBA 0..7, read back
 *    3 read sectors past end        READ SECTORS at LBA = capacity
 *    4 read sectors across end      READ SECTORS of 4 sectors from capacity - 2
 *    5 read sectors ext past end    READ SECTORS EXT at capacity
 *    6 read sectors ext lba 2^40    READ SECTORS EXT at 2^40 + 5 (the
 *                                   high-order LBA bytes must count)
 *    7 read dma past end            READ DMA at capacity
 *    8 read dma ext past end        READ DMA EXT at capacity
 *    9 read dma ext across end      READ DMA EXT of 2 sectors from capacity - 1
 *   10 write sectors ext past end   WRITE SECTORS EXT at capacity
 *   11 write dma past end           WRITE DMA at capacity
 *   12 unknown command              command 0xFF
 *   13 software reset               SRST, then the drive is ready
 * Checks 3-11 expect the command to end with ERR and IDNF, check 12 with
 * ERR and ABRT; after each, the alternate status must show DRDY without
 * BSY and DRQ, and a normal read of LBA 0..7 (PIO after a PIO command,
 * DMA after a DMA one; PIO after 12 and 13) must return the pattern
 * unchanged.  One line per check; exit code = the first failing check.
 */
#include "rt.h"
#include "ata.h"

#define PATTERN_N 8u

static uint32_t pattern_buf[PATTERN_N * ATA_SECTOR / 4];
static uint32_t read_buf[PATTERN_N * ATA_SECTOR / 4];
static uint32_t junk_buf[4 * ATA_SECTOR / 4];
static struct ata_prd prd[4] __attribute__((aligned(8)));
static struct ata_drive drive;

static int check_no, first_failure;

/* Counts a check and prints its line; `why` (may be NULL) or the drive's
 * last result explains a failure. */
static void report(const char *name, int ok, int rc, const char *why)
{
    check_no++;
    rt_puts(name);
    if (ok) {
        rt_puts(" ok\n");
        return;
    }
    rt_puts(" FAILED: ");
    if (why)
        rt_puts(why);
    else if (rc == ATA_OK)
        rt_puts("the command succeeded");
    else
        ata_print_result(&drive, rc);
    rt_putc('\n');
    if (!first_failure)
        first_failure = check_no;
}

/* Reads LBA 0..7 (PIO or polled DMA) and compares it with the pattern. */
static int normal_read(int dma)
{
    int rc;

    memset(read_buf, 0xee, sizeof read_buf);
    if (dma) {
        ata_prd_build(prd, 4, read_buf, sizeof read_buf);
        rc = ata_dma_read(&drive, 0, PATTERN_N, prd, 0);
    } else {
        rc = ata_pio_read(&drive, 0, PATTERN_N, read_buf, 0);
    }
    return rc == ATA_OK && memcmp(read_buf, pattern_buf, sizeof read_buf) == 0;
}

/*
 * The command ended with result `rc`: it must be a device error with
 * `bit` in the error register, the drive must be ready again, and a
 * normal read must work.
 */
static void expect_error(const char *name, int rc, uint8_t bit, int dma)
{
    uint8_t alt;

    if (rc != ATA_E_DEVICE || !(drive.status & ATA_SR_ERR) || !(drive.error & bit)) {
        report(name, 0, rc, 0);
        return;
    }
    alt = *(volatile uint8_t *)(ATA_TASK(0) + ATA_REG_ALTSTAT);
    if ((alt & (ATA_SR_BSY | ATA_SR_DRDY | ATA_SR_DRQ)) != ATA_SR_DRDY) {
        report(name, 0, rc, "not ready after the error");
        return;
    }
    report(name, normal_read(dma), rc, "the normal read after the error failed");
}

/* A DMA command through a PRD table over junk_buf. */
static int dma(uint64_t lba, uint32_t n, int ext, int write)
{
    ata_prd_build(prd, 4, junk_buf, n * ATA_SECTOR);
    return write ? ata_dma_write(&drive, lba, n, prd, ext) : ata_dma_read(&drive, lba, n, prd, ext);
}

int main(void)
{
    uint64_t cap;
    int rc;

    rc = ata_probe(&drive, 0, 0);
    report("identify", rc == ATA_OK && drive.sectors >= 16 && drive.sectors < (1u << 28) - 4, rc,
           rc ? 0 : "capacity outside 16 sectors .. 128 GiB");
    if (rc)
        return first_failure;
    cap = drive.sectors;

    for (uint32_t i = 0; i < PATTERN_N * ATA_SECTOR / 4; i++)
        pattern_buf[i] = 0xa7a00000u ^ (i * 0x01000193u);
    for (uint32_t i = 0; i < 4 * ATA_SECTOR / 4; i++)
        junk_buf[i] = 0xbad00000u | i;
    rc = ata_pio_write(&drive, 0, PATTERN_N, pattern_buf, 0);
    report("setup", rc == ATA_OK && normal_read(0), rc, rc ? 0 : "read back differs");

    expect_error("read sectors past end",
                 ata_pio_read(&drive, cap, 1, junk_buf, 0), ATA_ER_IDNF, 0);
    expect_error("read sectors across end",
                 ata_pio_read(&drive, cap - 2, 4, junk_buf, 0), ATA_ER_IDNF, 0);
    expect_error("read sectors ext past end",
                 ata_pio_read(&drive, cap, 1, junk_buf, 1), ATA_ER_IDNF, 0);
    expect_error("read sectors ext lba 2^40",
                 ata_pio_read(&drive, (1ull << 40) + 5, 1, junk_buf, 1), ATA_ER_IDNF, 0);
    expect_error("read dma past end", dma(cap, 1, 0, 0), ATA_ER_IDNF, 1);
    expect_error("read dma ext past end", dma(cap, 1, 1, 0), ATA_ER_IDNF, 1);
    expect_error("read dma ext across end", dma(cap - 1, 2, 1, 0), ATA_ER_IDNF, 1);

    for (uint32_t i = 0; i < 4 * ATA_SECTOR / 4; i++)   /* the reads above may have filled it */
        junk_buf[i] = 0xbad00000u | i;
    expect_error("write sectors ext past end",
                 ata_pio_write(&drive, cap, 1, junk_buf, 1), ATA_ER_IDNF, 0);
    expect_error("write dma past end", dma(cap, 1, 0, 1), ATA_ER_IDNF, 1);

    expect_error("unknown command", ata_nodata(&drive, 0xff, 0, 0), ATA_ER_ABRT, 0);

    rc = ata_reset(0);
    report("software reset", rc == ATA_OK && normal_read(0), rc,
           rc ? 0 : "the normal read after the reset failed");
    return first_failure;
}
