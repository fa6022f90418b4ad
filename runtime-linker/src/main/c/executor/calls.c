/*
 * Calls into loaded code, on the main thread, the one with the alternate signal stack: a fault in the
 * callee is reported and ends this process (crash.c); nothing here tries to survive it.
 */
#include "executor.h"

#include <dlfcn.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Variadic on purpose: the caller of a variadic function sets %al to the number of vector registers
 * used, and the eight doubles go in xmm0-7, as for a callee that takes them as named parameters of
 * any floating type (a float is the low 32 bits of its register: the JVM sends its bits so). */
typedef long integer_function(long, long, long, long, long, long, ...);
typedef double double_function(long, long, long, long, long, long, ...);
typedef float float_function(long, long, long, long, long, long, ...);

void handle_call(struct reader *in, struct reply *out) {
    uint64_t function;
    uint32_t kind;
    uint32_t unused;
    uint64_t integers[6];
    uint64_t bits[8];
    int ok = read_u64(in, "function", &function) && read_u32(in, "return kind", &kind)
             && read_u32(in, "unused", &unused);
    for (int i = 0; ok && i < 6; i++) {
        ok = read_u64(in, "integer argument", &integers[i]);
    }
    for (int i = 0; ok && i < 8; i++) {
        ok = read_u64(in, "double argument", &bits[i]);
    }
    if (!ok || !read_end(in)) {
        reply_malformed(out, in);
        return;
    }
    long a[6];
    double d[8];
    for (int i = 0; i < 6; i++) {
        a[i] = (long) integers[i];
    }
    memcpy(d, bits, sizeof d);
    uint64_t rax = 0;
    uint64_t xmm0 = 0;
    void *target = (void *) (uintptr_t) function;
    switch (kind) {
    case JDX_RETURN_INTEGER:
        rax = (uint64_t) ((integer_function *) target)(a[0], a[1], a[2], a[3], a[4], a[5], d[0], d[1], d[2], d[3],
                                                      d[4], d[5], d[6], d[7]);
        break;
    case JDX_RETURN_DOUBLE: {
        double result = ((double_function *) target)(a[0], a[1], a[2], a[3], a[4], a[5], d[0], d[1], d[2], d[3],
                                                     d[4], d[5], d[6], d[7]);
        memcpy(&xmm0, &result, sizeof result);
        break;
    }
    case JDX_RETURN_FLOAT: {
        float result = ((float_function *) target)(a[0], a[1], a[2], a[3], a[4], a[5], d[0], d[1], d[2], d[3],
                                                   d[4], d[5], d[6], d[7]);
        uint32_t low;
        memcpy(&low, &result, sizeof low);
        xmm0 = low;
        break;
    }
    default:
        reply_error(out, "CALL: unknown return kind %u", kind);
        return;
    }
    put_u64(out, rax);
    put_u64(out, xmm0);
}

typedef int main_function(int, char **, char **);

void handle_run_main(struct reader *in, struct reply *out) {
    uint64_t function;
    uint32_t argc;
    if (!read_u64(in, "main", &function) || !read_u32(in, "argc", &argc)
            || !read_count_fits(in, "argc", argc, 4)) {
        reply_malformed(out, in);
        return;
    }
    /* Never freed: a program may keep pointers into its argv (getopt, program names) past main. */
    char **argv = calloc((size_t) argc + 1, sizeof *argv);
    if (argv == NULL) {
        reply_error(out, "RUN_MAIN: no memory for %u arguments", argc);
        return;
    }
    for (uint32_t i = 0; i < argc; i++) {
        if (!read_string(in, "argument", &argv[i])) {
            break;
        }
    }
    if (!read_end(in)) {
        reply_malformed(out, in);
        for (uint32_t i = 0; i < argc; i++) {
            free(argv[i]);
        }
        free(argv);
        return;
    }
    int status = ((main_function *) (uintptr_t) function)((int) argc, argv, environ);
    /* What exit runs first: the main thread's thread_local destructors (glibc's, GLIBC_PRIVATE), then
     * the streams' buffers, written before the reply. */
    void (*call_tls_dtors)(void) = (void (*)(void)) dlsym(RTLD_DEFAULT, "__call_tls_dtors");
    if (call_tls_dtors != NULL) {
        call_tls_dtors();
    }
    fflush(NULL);
    put_u32(out, (uint32_t) status);
}

/* The mapping that holds `address`, within [low, high): pthread_getattr_np reports the main thread's
 * stack as large as its rlimit, most of it not mapped yet, and mprotect fails on a range with holes.
 * The kernel grows the stack mapping with its protection, so what is mapped now is enough. */
static int stack_mapping(uintptr_t address, uintptr_t low, uintptr_t high, uintptr_t *from, uintptr_t *to) {
    FILE *maps = fopen("/proc/self/maps", "re");
    if (maps == NULL) {
        return errno;
    }
    int result = ESRCH;
    unsigned long start;
    unsigned long end;
    char line[512];
    while (fgets(line, sizeof line, maps) != NULL) {
        if (sscanf(line, "%lx-%lx", &start, &end) == 2 && start <= address && address < end) {
            *from = start > low ? start : low;
            *to = end < high ? end : high;
            result = 0;
            break;
        }
    }
    fclose(maps);
    return result;
}

/* The one mapping that may be writable and executable: GNU C nested-function trampolines are
 * written to the stack and run there. Requests are served on the main thread, so its stack is ours. */
void handle_executable_stack(struct reader *in, struct reply *out) {
    if (!read_end(in)) {
        reply_malformed(out, in);
        return;
    }
    pthread_attr_t attributes;
    void *low;
    size_t size;
    int error = pthread_getattr_np(pthread_self(), &attributes);
    if (error == 0) {
        error = pthread_attr_getstack(&attributes, &low, &size);
        pthread_attr_destroy(&attributes);
    }
    uintptr_t from = 0;
    uintptr_t to = 0;
    if (error == 0) {
        uintptr_t here = (uintptr_t) __builtin_frame_address(0);
        error = stack_mapping(here, (uintptr_t) low, (uintptr_t) low + size, &from, &to);
    }
    if (error == 0 && mprotect((void *) from, to - from, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) {
        error = errno;
    }
    if (error != 0) {
        reply_error(out, "executable stack 0x%lx-0x%lx: %s", (unsigned long) from, (unsigned long) to,
                    strerror(error));
    }
}
