/* C calling a Rust staticlib that uses std: collections, format!, a caught panic (unwinding
 * through libgcc_s's _Unwind_*), threads with a thread-local, and Rust's own stdout. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

int rs_word_counts(const char *text, char *out, size_t len);
uint64_t rs_prime_sum(uint32_t limit);
int rs_histogram(const int64_t *values, size_t n, int64_t buckets, char *out, size_t len);
int rs_safe_divide(int a, int b, char *out, size_t len);
uint64_t rs_parallel_sum(uint64_t n, uint32_t threads);
void rs_greet(const char *name);

int main(void) {
    char buf[512];
    int n = rs_word_counts("the quick brown fox jumps over the lazy dog The End fox", buf, sizeof buf);
    printf("words (%d chars): %s\n", n, buf);
    printf("sum of primes below 100000: %llu\n", (unsigned long long) rs_prime_sum(100000));
    int64_t values[] = {17, -4, 23, 8, 0, 41, -13, 5, 12, 99};
    rs_histogram(values, sizeof values / sizeof values[0], 4, buf, sizeof buf);
    printf("histogram: %s\n", buf);
    int q = rs_safe_divide(84, 2, buf, sizeof buf);
    printf("84 / 2 = %d (%s)\n", q, buf);
    q = rs_safe_divide(7, 0, buf, sizeof buf);
    printf("7 / 0 = %d (%s)\n", q, buf);
    printf("parallel sum: %llu\n", (unsigned long long) rs_parallel_sum(1000000, 4));
    /* Rust's stdout has its own buffer on fd 1: flush C's first so the lines stay in order.
     * fflush(NULL), not fflush(stdout): -fno-pic code cannot reach libc's stdout (host data). */
    fflush(NULL);
    rs_greet("C");
    printf("done\n");
    return 3;
}
