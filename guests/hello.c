/* hello: the smallest guest; prints one line and exits 0. */
#include "rt.h"

int main(void)
{
    rt_puts("hello from reel\n");
    return 0;
}
