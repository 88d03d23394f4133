/*
 * bench: a CPU-bound mix in the spirit of CoreMark, for timing the CPU.
 *
 * Each of ITERATIONS rounds runs four kernels on inputs derived from the
 * round number (so that nothing can be hoisted out of the loop):
 *   list    build a linked list of LIST_N nodes with pseudo-random keys,
 *           merge-sort it, then search it for a set of keys
 *   matrix  multiply two MAT_N x MAT_N integer matrices
 *   crc32   CRC-32 (IEEE, table-driven) over a CRC_LEN-byte buffer
 *   state   a small lexer (state machine) over a byte string that
 *           classifies integers, hex numbers, floats, words and junk
 * and folds each kernel's result into that kernel's checksum.
 *
 * Output (identical on every correct RV32IM machine; no time is read):
 *   list checksum XXXXXXXX / matrix ... / crc32 ... / state ...
 *   bench checksum XXXXXXXX
 * Exit 0.  One run retires about 60 million instructions (ITERATIONS).
 */
#include "rt.h"

#ifndef ITERATIONS
#define ITERATIONS 500
#endif

#define LIST_N   200
#define MAT_N    16
#define CRC_LEN  1024
#define STATE_LEN 512

static uint32_t rotl(uint32_t x, unsigned r)
{
    return (x << r) | (x >> (32 - r));
}

/* Fold a kernel result into a running checksum. */
static uint32_t fold(uint32_t acc, uint32_t v)
{
    return rotl(acc, 5) ^ (v * 0x9e3779b1u);
}

/* xorshift32: deterministic pseudo-random numbers. */
static uint32_t rng_next(uint32_t *s)
{
    uint32_t x = *s;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

/* ---------------- list: build, merge sort, search ---------------- */

struct node {
    struct node *next;
    uint32_t key;
    uint32_t value;
};

static struct node pool[LIST_N];

static struct node *list_build(uint32_t seed)
{
    struct node *head = 0;

    for (int i = 0; i < LIST_N; i++) {
        struct node *n = &pool[i];
        n->key = rng_next(&seed) & 0xffff;
        n->value = (uint32_t)i;
        n->next = head;
        head = n;
    }
    return head;
}

static struct node *list_merge(struct node *a, struct node *b)
{
    struct node head, *tail = &head;

    while (a && b) {
        /* stable on equal keys: take from a first */
        if (a->key <= b->key) {
            tail->next = a;
            a = a->next;
        } else {
            tail->next = b;
            b = b->next;
        }
        tail = tail->next;
    }
    tail->next = a ? a : b;
    return head.next;
}

static struct node *list_sort(struct node *list)
{
    if (!list || !list->next)
        return list;
    /* split in halves with a slow and a fast pointer */
    struct node *slow = list, *fast = list->next;
    while (fast && fast->next) {
        slow = slow->next;
        fast = fast->next->next;
    }
    struct node *second = slow->next;
    slow->next = 0;
    return list_merge(list_sort(list), list_sort(second));
}

static uint32_t list_kernel(uint32_t round)
{
    struct node *list = list_sort(list_build(0x1234567u + round * 7919u));
    uint32_t acc = 0, pos = 0, prev = 0;

    /* order check and positional checksum */
    for (struct node *n = list; n; n = n->next, pos++) {
        if (n->key < prev)
            acc ^= 0xdead0000u;          /* not sorted: poisons the sum */
        prev = n->key;
        acc += n->value * (pos + 1) + n->key;
    }
    /* search for keys (some present, some not); sorted: stop early */
    uint32_t s = round + 1;
    for (int q = 0; q < 32; q++) {
        uint32_t key = q & 1 ? rng_next(&s) & 0xffff : pool[(q * 37) % LIST_N].key;
        uint32_t where = 0xffffffffu;
        pos = 0;
        for (struct node *n = list; n && n->key <= key; n = n->next, pos++) {
            if (n->key == key) {
                where = pos;
                break;
            }
        }
        acc = rotl(acc, 3) + where;
    }
    return acc;
}

/* ---------------- matrix multiply ---------------- */

static int32_t mat_a[MAT_N][MAT_N], mat_b[MAT_N][MAT_N], mat_c[MAT_N][MAT_N];

static uint32_t matrix_kernel(uint32_t round)
{
    uint32_t s = 0x2545f491u ^ (round * 2654435761u);

    for (int i = 0; i < MAT_N; i++)
        for (int j = 0; j < MAT_N; j++) {
            mat_a[i][j] = (int32_t)(rng_next(&s) % 2001) - 1000;
            mat_b[i][j] = (int32_t)(rng_next(&s) % 2001) - 1000;
        }
    for (int i = 0; i < MAT_N; i++)
        for (int j = 0; j < MAT_N; j++) {
            int32_t sum = 0;
            for (int k = 0; k < MAT_N; k++)
                sum += mat_a[i][k] * mat_b[k][j];   /* |sum| < 2^31 */
            mat_c[i][j] = sum;
        }
    uint32_t acc = 0;
    for (int i = 0; i < MAT_N; i++)
        for (int j = 0; j < MAT_N; j++)
            acc = rotl(acc, 7) ^ (uint32_t)mat_c[i][j];
    /* a division per row keeps div/rem in the mix */
    for (int i = 0; i < MAT_N; i++) {
        int32_t d = mat_c[i][i] % 97;
        acc += (uint32_t)(mat_c[i][(i + 1) % MAT_N] / (d ? d : 1));
    }
    return acc;
}

/* ---------------- CRC-32 ---------------- */

static uint32_t crc_table[256];
static uint8_t crc_buf[CRC_LEN];

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32(const uint8_t *p, uint32_t len)
{
    uint32_t c = 0xffffffffu;

    while (len--)
        c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static uint32_t crc_kernel(uint32_t round)
{
    uint32_t s = 0x9e3779b9u + round;

    for (int i = 0; i < CRC_LEN; i += 4) {
        uint32_t r = rng_next(&s);
        crc_buf[i] = (uint8_t)r;
        crc_buf[i + 1] = (uint8_t)(r >> 8);
        crc_buf[i + 2] = (uint8_t)(r >> 16);
        crc_buf[i + 3] = (uint8_t)(r >> 24);
    }
    uint32_t a = crc32(crc_buf, CRC_LEN);
    uint32_t b = crc32(crc_buf + round % 64, CRC_LEN / 2);
    return a ^ rotl(b, 11);
}

/* ---------------- state machine ---------------- */

enum state { S_START, S_INT, S_HEX0, S_HEX, S_FLOAT, S_EXP, S_EXPNUM, S_WORD, S_JUNK, S_COUNT };

static uint8_t state_text[STATE_LEN];

/* Fill the text with space-separated tokens of several kinds. */
static void state_fill(uint32_t round)
{
    static const char *const pieces[] = {
        "123", "0x1f", "3.25", "1e9", "2.5e-3", "word", "x86", "-17",
        "0x", "7.e", "abc1", "+", "0xdeadbeef", "42", "1.5", "$%",
    };
    uint32_t s = 0xc0ffeeu ^ (round * 40503u);
    int n = 0;

    while (n < STATE_LEN - 1) {
        const char *p = pieces[rng_next(&s) & 15];
        while (*p && n < STATE_LEN - 1)
            state_text[n++] = (uint8_t)*p++;
        if (n < STATE_LEN - 1)
            state_text[n++] = (rng_next(&s) & 7) ? ' ' : ',';
    }
    state_text[n] = 0;
}

static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static int is_hex(uint8_t c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }
static int is_alpha(uint8_t c) { return c >= 'a' && c <= 'z'; }

static uint32_t state_kernel(uint32_t round)
{
    uint32_t count[S_COUNT] = { 0 };
    uint32_t transitions = 0;
    enum state st = S_START;

    state_fill(round);
    for (const uint8_t *p = state_text;; p++) {
        uint8_t c = *p;
        enum state next;

        if (c == 0 || c == ' ' || c == ',') {
            if (st != S_START)
                count[st]++;
            if (c == 0)
                break;
            st = S_START;
            continue;
        }
        switch (st) {
        case S_START:
            next = c == '0' ? S_HEX0 : is_digit(c) ? S_INT :
                   (c == '+' || c == '-') ? S_INT : is_alpha(c) ? S_WORD : S_JUNK;
            break;
        case S_INT:
            next = is_digit(c) ? S_INT : c == '.' ? S_FLOAT : c == 'e' ? S_EXP : S_JUNK;
            break;
        case S_HEX0:
            next = c == 'x' ? S_HEX : is_digit(c) ? S_INT : c == '.' ? S_FLOAT : S_JUNK;
            break;
        case S_HEX:
            next = is_hex(c) ? S_HEX : S_JUNK;
            break;
        case S_FLOAT:
            next = is_digit(c) ? S_FLOAT : c == 'e' ? S_EXP : S_JUNK;
            break;
        case S_EXP:
            next = (is_digit(c) || c == '-' || c == '+') ? S_EXPNUM : S_JUNK;
            break;
        case S_EXPNUM:
            next = is_digit(c) ? S_EXPNUM : S_JUNK;
            break;
        case S_WORD:
            next = (is_alpha(c) || is_digit(c)) ? S_WORD : S_JUNK;
            break;
        default:
            next = S_JUNK;
            break;
        }
        if (next != st)
            transitions++;
        st = next;
    }
    uint32_t acc = transitions;
    for (int i = 0; i < S_COUNT; i++)
        acc = acc * 31 + count[i];
    return acc;
}

/* ---------------- driver ---------------- */

static void print_sum(const char *name, uint32_t v)
{
    rt_puts(name);
    rt_puts(" checksum ");
    rt_put_hex(v);
    rt_putc('\n');
}

int main(void)
{
    uint32_t c_list = 0, c_matrix = 0, c_crc = 0, c_state = 0;

    crc_init();
    for (uint32_t round = 0; round < ITERATIONS; round++) {
        c_list = fold(c_list, list_kernel(round));
        c_matrix = fold(c_matrix, matrix_kernel(round));
        c_crc = fold(c_crc, crc_kernel(round));
        c_state = fold(c_state, state_kernel(round));
    }
    print_sum("list", c_list);
    print_sum("matrix", c_matrix);
    print_sum("crc32", c_crc);
    print_sum("state", c_state);
    print_sum("bench", c_list ^ rotl(c_matrix, 8) ^ rotl(c_crc, 16) ^ rotl(c_state, 24));
#ifdef BENCH_REPORT_INSTRET
    /* Measurement build only (run QEMU with -icount shift=0). */
    rt_puts("instret ");
    rt_put_udec(csr_read(minstret));
    rt_putc('\n');
#endif
    return 0;
}
