/* An AArch64 IFUNC resolver that chooses by the hardware capabilities the dynamic loader passes it:
 * AT_HWCAP with _IFUNC_ARG_HWCAP in the first argument, and a pointer to __ifunc_arg_t. */
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/ifunc.h>

static unsigned long seen_hwcap;
static unsigned long seen_size;
static int with_simd(int x) { return x * 10; }
static int without_simd(int x) { return x; }

static void *resolve_scale(unsigned long hwcap, const __ifunc_arg_t *arg) {
    seen_hwcap = hwcap;
    seen_size = (hwcap & _IFUNC_ARG_HWCAP) != 0 && arg != NULL ? arg->_size : 0;
    return (hwcap & HWCAP_ASIMD) != 0 ? (void *) with_simd : (void *) without_simd;
}

int scale(int x) __attribute__((ifunc("resolve_scale")));

int main(void) {
    printf("scale(4) = %d\n", scale(4));
    printf("resolver saw _IFUNC_ARG_HWCAP: %d, the same AT_HWCAP as getauxval: %d, __ifunc_arg_t of %lu bytes\n",
           (seen_hwcap & _IFUNC_ARG_HWCAP) != 0, (seen_hwcap & ~_IFUNC_ARG_HWCAP) == getauxval(AT_HWCAP), seen_size);
    return 0;
}
