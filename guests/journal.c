/*
 * journal: interrupt-driven DMA on both channels at once, recording the
 * order in which the completions arrive.
 *
 * Disks: two, channel 0 master and channel 1 master (8 MiB each; any size
 * of at least 2560 sectors works).
 *
 * Each channel runs 64 DMA requests, one at a time, while the other
 * channel runs its own: pairs of a write (1..8 sectors of a fixed pattern,
 * LBA 2048 + 16 * pair + a few) and a read of the same sectors back; LBA28
 * or LBA48 commands by a fixed pseudo-random choice.  Each completion
 * interrupt appends its channel number (0 or 1) to the journal and the
 * handler starts that channel's next request; main() sleeps in wfi
 * between interrupts.  When both channels are done, every read is
 * compared with its write, the journal (128 entries, one byte each) is
 * written by DMA to disk 0 at LBA 1024 and read back.
 *
 * Prints "journal entries 128" and "journal digest XXXXXXXX" (FNV-1a of
 * the 128 entries) and exits 0.  The digest depends on the order in which
 * the two disks complete, so it may differ from run to run unless the run
 * is replayed.  Exit codes: 1/2 disk 0/1 probe, 3 a request failed, 4
 * wrong number of completions, 5 read-back data differ, 6 journal write,
 * 7 journal read back.
 */
#include "rt.h"
#include "ata.h"

#define REQS        64          /* per channel */
#define MAX_SECT    8
#define DATA_LBA    2048u
#define JOURNAL_LBA 1024u
#define ENTRIES     (2 * REQS)

struct request {
    uint32_t lba;
    uint8_t count;              /* sectors, 1..MAX_SECT */
    uint8_t write;
    uint8_t ext;                /* LBA48 command */
};

static struct request plan[2][REQS];
/* One 4 KiB buffer per request (so one PRD entry each, and every read
 * stays around for the final comparison). */
static uint8_t buf[2][REQS][MAX_SECT * ATA_SECTOR] __attribute__((aligned(4096)));
static struct ata_prd prd[2][2] __attribute__((aligned(8)));   /* per channel */
static struct ata_drive disk[2];

static uint8_t journal[ATA_SECTOR] __attribute__((aligned(4)));
static uint8_t readback[ATA_SECTOR] __attribute__((aligned(4)));
static volatile uint32_t entries;

static volatile uint32_t issued[2];     /* requests started, per channel */
static volatile uint8_t stopped[2];     /* channel finished (or failed) */

/* The first failure seen in interrupt context, for main() to report. */
static volatile int fail_rc;
static volatile uint32_t fail_ch, fail_req;
static volatile uint8_t fail_status, fail_error;

static uint32_t mix(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static void make_plan(void)
{
    for (uint32_t ch = 0; ch < 2; ch++) {
        for (uint32_t k = 0; k < REQS; k++) {
            uint32_t pair = k / 2, h = mix(ch * 1000u + pair + 1);
            struct request *r = &plan[ch][k];
            uint32_t *words = (uint32_t *)buf[ch][k];

            r->count = (uint8_t)(1 + h % MAX_SECT);
            r->lba = DATA_LBA + 16 * pair + (h >> 8) % (17u - r->count);
            r->write = !(k & 1);           /* even: write; odd: read it back */
            r->ext = (uint8_t)((h >> 16) & 1);
            if (r->write)
                for (uint32_t w = 0; w < r->count * ATA_SECTOR / 4; w++)
                    words[w] = mix((ch << 28) ^ (k << 20) ^ w);
        }
    }
}

static void note_failure(int ch, int rc)
{
    if (!fail_rc) {
        fail_rc = rc;
        fail_ch = (uint32_t)ch;
        fail_req = issued[ch] - 1;
        fail_status = disk[ch].status;
        fail_error = disk[ch].error;
    }
    stopped[ch] = 1;
}

/* Starts the channel's next request (or marks the channel done). */
static void start_next(int ch)
{
    uint32_t k = issued[ch];
    const struct request *r = &plan[ch][k];
    int rc;

    if (k == REQS) {
        stopped[ch] = 1;
        return;
    }
    issued[ch] = k + 1;
    ata_prd_build(prd[ch], 2, buf[ch][k], r->count * ATA_SECTOR);
    rc = ata_dma_start(&disk[ch], r->lba, r->count, prd[ch], r->ext, r->write);
    if (rc)
        note_failure(ch, rc);
}

/* Completion callback, in the interrupt handler: journal, then go on. */
static void on_done(int ch, int rc)
{
    if (entries < ENTRIES)
        journal[entries] = (uint8_t)ch;
    entries++;
    if (rc)
        note_failure(ch, rc);
    else
        start_next(ch);
}

static int verify_reads(void)
{
    for (int ch = 0; ch < 2; ch++)
        for (int k = 1; k < REQS; k += 2)
            if (memcmp(buf[ch][k], buf[ch][k - 1], plan[ch][k].count * ATA_SECTOR))
                return 0;
    return 1;
}

int main(void)
{
    struct ata_prd t[2];
    uint32_t digest = 2166136261u, ones = 0;
    int rc;

    for (int ch = 0; ch < 2; ch++) {
        rc = ata_probe(&disk[ch], ch, 0);
        if (rc) {
            rt_puts(ch ? "disk 1" : "disk 0");
            rt_puts(" probe FAILED: ");
            ata_print_result(&disk[ch], rc);
            rt_putc('\n');
            return 1 + ch;
        }
    }
    make_plan();

    ata_irq_enable(on_done);
    csr_clear(mstatus, MSTATUS_MIE);
    start_next(0);                      /* one request in flight per channel */
    start_next(1);
    for (;;) {                          /* sleep until both channels are done */
        csr_clear(mstatus, MSTATUS_MIE);
        if (stopped[0] && stopped[1])
            break;
        __asm__ volatile ("wfi");
        csr_set(mstatus, MSTATUS_MIE);  /* the interrupt is taken here */
    }
    ata_irq_disable();

    if (fail_rc) {
        rt_puts("request FAILED: channel ");
        rt_put_udec(fail_ch);
        rt_puts(" request ");
        rt_put_udec(fail_req);
        rt_puts(": ");
        rt_puts(ata_strerror(fail_rc));
        rt_puts(" (status ");
        ata_put_hex8(fail_status);
        rt_puts(" error ");
        ata_put_hex8(fail_error);
        rt_puts(")\n");
        return 3;
    }
    for (uint32_t i = 0; i < ENTRIES && i < entries; i++)
        ones += journal[i];
    if (entries != ENTRIES || ones != REQS) {
        rt_puts("completions FAILED: ");
        rt_put_udec(entries);
        rt_puts(" entries, ");
        rt_put_udec(ones);
        rt_puts(" from channel 1\n");
        return 4;
    }
    if (!verify_reads()) {
        rt_puts("read-back FAILED: data differ\n");
        return 5;
    }

    /* The journal to disk 0 (polled DMA, LBA28 write, LBA48 read). */
    ata_prd_build(t, 2, journal, ATA_SECTOR);
    rc = ata_dma_write(&disk[0], JOURNAL_LBA, 1, t, 0);
    if (rc) {
        rt_puts("journal write FAILED: ");
        ata_print_result(&disk[0], rc);
        rt_putc('\n');
        return 6;
    }
    memset(readback, 0xee, ATA_SECTOR);
    ata_prd_build(t, 2, readback, ATA_SECTOR);
    rc = ata_dma_read(&disk[0], JOURNAL_LBA, 1, t, 1);
    if (rc || memcmp(journal, readback, ATA_SECTOR)) {
        rt_puts("journal read back FAILED: ");
        if (rc)
            ata_print_result(&disk[0], rc);
        else
            rt_puts("data differ");
        rt_putc('\n');
        return 7;
    }

    for (int i = 0; i < ENTRIES; i++)
        digest = (digest ^ journal[i]) * 16777619u;
    rt_puts("journal entries ");
    rt_put_udec(entries);
    rt_puts("\njournal digest ");
    rt_put_hex(digest);
    rt_putc('\n');
    return 0;
}
