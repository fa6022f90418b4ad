/* setjmp/longjmp across calls, varargs (sum and a vsnprintf wrapper), alloca. */
#include <alloca.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static jmp_buf env;
static int depth_reached;

static void dive(int depth, int limit) {
    volatile char pad[64];
    pad[depth % 64] = (char)depth;
    depth_reached = depth + pad[depth % 64] - depth;
    if (depth == limit) {
        longjmp(env, depth * 10 + 1);
    }
    dive(depth + 1, limit);
}

long sum_ints(int count, ...) {
    va_list ap;
    va_start(ap, count);
    long s = 0;
    for (int i = 0; i < count; i++) {
        s += va_arg(ap, int);
    }
    va_end(ap);
    return s;
}

double sum_mixed(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    double s = 0;
    for (const char *p = fmt; *p; p++) {
        if (*p == 'i') s += va_arg(ap, int);
        else if (*p == 'l') s += (double)va_arg(ap, long);
        else if (*p == 'd') s += va_arg(ap, double);
    }
    va_end(ap);
    return s;
}

static int format_into(char *buf, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return r;
}

static int use_alloca(int n) {
    int *tmp = alloca(n * sizeof(int));
    for (int i = 0; i < n; i++) {
        tmp[i] = i * i;
    }
    int s = 0;
    for (int i = n - 1; i >= 0; i--) {
        s += tmp[i] - i;
    }
    char *str = alloca(n + 1);
    memset(str, 'a' + n % 26, n);
    str[n] = 0;
    printf("alloca n=%d s=%d str=%.8s\n", n, s, str);
    return s;
}

int main(void) {
    for (int limit = 0; limit < 4; limit++) {
        int r = setjmp(env);
        if (r == 0) {
            dive(0, limit * 3);
            puts("unreachable");
        } else {
            printf("longjmp returned %d depth=%d\n", r, depth_reached);
        }
    }

    printf("sum_ints=%ld\n", sum_ints(10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
    printf("sum_ints0=%ld\n", sum_ints(0));
    printf("sum_mixed=%.10g\n", sum_mixed("idlddiil", 1, 2.5, 3L, 0.25, 1e3, 7, 8, 9L));

    char buf[32];
    int r = format_into(buf, sizeof buf, "%s-%d-%05.2f-%c", "abc", 42, 3.14159, 'z');
    printf("format r=%d buf=%s\n", r, buf);
    r = format_into(buf, 8, "%s", "this string is truncated");
    printf("format r=%d buf=%s\n", r, buf);

    int total = 0;
    for (int n = 1; n < 200; n += 37) {
        total += use_alloca(n);
    }
    printf("total=%d\n", total);
    return total % 100;
}
