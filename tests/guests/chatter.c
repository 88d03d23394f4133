/* chatter: 24000 numbered lines of 64 bytes (1.5 MB), then exits 0. */
#include "rt.h"

int main(void)
{
    for (uint32_t i = 0; i < 24000; i++) {
        rt_put_hex(i);
        rt_puts(" the quick brown fox jumps over the lazy dog, twice. ...\n");
    }
    return 0;
}
