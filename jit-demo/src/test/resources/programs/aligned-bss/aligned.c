/* Alignment up to 2 MiB and a 256 MiB .bss that must cost no copy. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

__attribute__((aligned(64))) int cache_line[16] = {1, 2, 3};
__attribute__((aligned(4096))) char page[4096] = "page-aligned";
__attribute__((aligned(1 << 21))) char huge[100] = "2MiB-aligned";
__attribute__((aligned(4096))) static char zero_page[8192];
static char big_bss[256u << 20];
const __attribute__((aligned(4096))) char ro_page[16] = "read-only page";

static int aligned(const void *p, uintptr_t a) { return ((uintptr_t) p & (a - 1)) == 0; }

int main(void) {
    printf("cache_line %d page %d huge %d zero_page %d ro_page %d\n", aligned(cache_line, 64),
           aligned(page, 4096), aligned(huge, 1 << 21), aligned(zero_page, 4096), aligned(ro_page, 4096));
    printf("%s %s %s %d\n", page, huge, ro_page, cache_line[2]);
    size_t nonzero = 0;
    for (size_t i = 0; i < sizeof big_bss; i += 1 << 20) nonzero += big_bss[i] != 0;
    big_bss[sizeof big_bss - 1] = 7;
    big_bss[12345] = 5;
    memset(zero_page, 1, sizeof zero_page);
    printf("bss nonzero before: %zu after: %d %d sum %d\n", nonzero, big_bss[sizeof big_bss - 1], big_bss[12345],
           zero_page[0] + zero_page[8191]);
    return 0;
}
