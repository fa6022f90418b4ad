/*
 * The windows: the JVM's memory files, mapped at the addresses the JVM chose (near libc, so that
 * the loaded code reaches it with 32-bit displacements). A window starts inaccessible; the JVM opens
 * its pages with PROTECT as it fills them through its own mapping. No page is ever both writable and
 * executable here: code is written on the JVM's side and only read and executed on this one.
 */
#include "executor.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define KNOWN_PROT (PROT_READ | PROT_WRITE | PROT_EXEC)

/* The windows mapped, for the crash handler's stack scan: a word on the stack that points into
 * one may be a return address into loaded code. Written only by the request loop, read by the
 * handler; a stale entry costs at most a wrong guess in a report. */
#define MAX_WINDOWS 64
static uintptr_t window_start[MAX_WINDOWS];
static uintptr_t window_end[MAX_WINDOWS];

int memory_in_window(uint64_t address) {
    for (int i = 0; i < MAX_WINDOWS; i++) {
        if (address >= window_start[i] && address < window_end[i]) {
            return 1;
        }
    }
    return 0;
}

static void remember_window(uintptr_t start, uintptr_t end) {
    for (int i = 0; i < MAX_WINDOWS; i++) {
        if (window_end[i] == 0) {
            window_start[i] = start;
            window_end[i] = end;
            return;
        }
    }
}

static void forget_window(uintptr_t start) {
    for (int i = 0; i < MAX_WINDOWS; i++) {
        if (window_start[i] == start) {
            window_start[i] = window_end[i] = 0;
        }
    }
}

void handle_map_window(struct reader *in, struct reply *out) {
    uint64_t address;
    uint64_t size;
    int fd = channel_take_descriptor();
    if (!read_u64(in, "address", &address) || !read_u64(in, "size", &size) || !read_end(in)) {
        reply_malformed(out, in);
    } else if (fd < 0) {
        reply_error(out, "MAP_WINDOW 0x%lx+0x%lx: no memory file descriptor came with the request",
                    (unsigned long) address, (unsigned long) size);
    } else {
        void *want = (void *) (uintptr_t) address;
        void *got = mmap(want, size, PROT_NONE, MAP_SHARED | MAP_FIXED_NOREPLACE | MAP_NORESERVE, fd, 0);
        if (got == MAP_FAILED) {
            reply_error(out, "mmap 0x%lx+0x%lx: %s", (unsigned long) address, (unsigned long) size, strerror(errno));
        } else if (got != want) {
            /* a kernel before 4.17 takes MAP_FIXED_NOREPLACE for a hint: the address was in use */
            munmap(got, size);
            reply_error(out, "mmap 0x%lx+0x%lx: %s", (unsigned long) address, (unsigned long) size, strerror(EEXIST));
        } else {
            remember_window((uintptr_t) address, (uintptr_t) (address + size));
        }
    }
    if (fd >= 0) {
        close(fd); /* the mapping keeps the memory file alive */
    }
}

void handle_protect(struct reader *in, struct reply *out) {
    uint64_t address;
    uint64_t length;
    uint32_t prot;
    if (!read_u64(in, "address", &address) || !read_u64(in, "length", &length) || !read_u32(in, "prot", &prot)
            || !read_end(in)) {
        reply_malformed(out, in);
    } else if ((prot & ~(uint32_t) KNOWN_PROT) != 0) {
        reply_error(out, "mprotect 0x%lx+0x%lx: prot 0x%x has bits other than PROT_READ, PROT_WRITE, PROT_EXEC",
                    (unsigned long) address, (unsigned long) length, prot);
    } else if ((prot & PROT_WRITE) != 0 && (prot & PROT_EXEC) != 0) {
        reply_error(out, "mprotect 0x%lx+0x%lx: refused, writable and executable at once (W^X)",
                    (unsigned long) address, (unsigned long) length);
    } else {
        if ((prot & PROT_EXEC) != 0) {
            machine_prepare_code((uintptr_t) address, (size_t) length);
        }
        if (mprotect((void *) (uintptr_t) address, length, (int) prot) != 0) {
            reply_error(out, "mprotect 0x%lx+0x%lx: %s", (unsigned long) address, (unsigned long) length,
                        strerror(errno));
        }
    }
}

void handle_unmap(struct reader *in, struct reply *out) {
    uint64_t address;
    uint64_t length;
    if (!read_u64(in, "address", &address) || !read_u64(in, "length", &length) || !read_end(in)) {
        reply_malformed(out, in);
    } else if (munmap((void *) (uintptr_t) address, length) != 0) {
        reply_error(out, "munmap 0x%lx+0x%lx: %s", (unsigned long) address, (unsigned long) length, strerror(errno));
    } else {
        forget_window((uintptr_t) address);
    }
}

void handle_maps(struct reader *in, struct reply *out) {
    if (!read_end(in)) {
        reply_malformed(out, in);
        return;
    }
    FILE *maps = fopen("/proc/self/maps", "r");
    if (maps == NULL) {
        reply_error(out, "cannot open /proc/self/maps: %s", strerror(errno));
        return;
    }
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, maps)) > 0) {
        put_bytes(out, chunk, n);
    }
    fclose(maps);
}
