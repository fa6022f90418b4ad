/* An indirect function (STT_GNU_IFUNC): the resolver runs once at load time and its answer is
 * what every call and every address-of reaches. */
#include <stdio.h>

int resolver_calls;
/* A resolver may not call other functions (natively it runs before relocation is complete). */
static volatile int prefer_twice = 1;
static int add_plain(int a, int b) { return a + b; }
static int add_twice(int a, int b) { return 2 * (a + b); }

static void *resolve_add(void) {
    resolver_calls++;
    return prefer_twice ? (void *) add_twice : (void *) add_plain;
}

int add(int a, int b) __attribute__((ifunc("resolve_add")));
int (*add_pointer)(int, int) = add;

int main(void) {
    int (*local_pointer)(int, int) = add;
    printf("add(2, 3) = %d, through data pointer %d, through local pointer %d\n", add(2, 3), add_pointer(4, 5),
           local_pointer(1, 1));
    /* How often the resolver ran and whether the two pointers agree differ between glibc's own
     * IRELATIVE processing and jdyld (once, stub as canonical address): not compared here. */
    return add(1, 2);
}
