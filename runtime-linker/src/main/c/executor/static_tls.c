/*
 * Static TLS for sets whose thread-locals are accessed with local-exec or initial-exec code: the JVM
 * builds a small shared object whose PT_TLS segment is the set's block (its template relocated) and
 * that asks for static TLS; loading it here makes glibc place the block in every thread's static TLS
 * from its surplus, and the object's one symbol holds the block's offset from the thread pointer.
 * The memory file stays open while the object is loaded: dlopen knows an object by its path, and
 * /proc/self/fd/N must not name another file until this one is closed.
 */
#include "executor.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * glibc places a dlopened module's block in static TLS only if its alignment is at most the largest
 * of the modules loaded at start (dl_tls_static_align): 64 on x86-64, but 16 on AArch64, whose C
 * library asks no more. This block raises it to 64 for the sets' blocks, and takes 64 bytes.
 */
__thread char jdyld_static_tls_alignment[1] __attribute__((aligned(64), used));

void handle_static_tls_load(struct reader *in, struct reply *out) {
    char *symbol;
    uint64_t length;
    if (!read_string(in, "symbol", &symbol)) {
        reply_malformed(out, in);
        return;
    }
    if (!read_u64(in, "length", &length) || length > JDX_MAX_PAYLOAD
        || !read_count_fits(in, "image", (uint32_t) length, 1)) {
        reply_malformed(out, in);
        free(symbol);
        return;
    }
    const unsigned char *image = in->data + in->at;
    in->at += length;
    if (!read_end(in)) {
        reply_malformed(out, in);
        free(symbol);
        return;
    }
    int fd = memfd_create("jdyld-static-tls", MFD_CLOEXEC);
    size_t written = 0;
    while (fd >= 0 && written < length) {
        ssize_t n = write(fd, image + written, length - written);
        if (n <= 0 && errno != EINTR) {
            break;
        }
        written += n > 0 ? (size_t) n : 0;
    }
    if (fd < 0 || written < length) {
        reply_error(out, "cannot write the static TLS module to a memory file: %s", strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        free(symbol);
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    dlerror();
    void *handle = dlopen(path, RTLD_NOW);
    if (handle == NULL) {
        const char *why = dlerror();
        reply_error(out, "%s", why != NULL ? why : "dlopen of the static TLS module failed");
        close(fd);
        free(symbol);
        return;
    }
    const uint64_t *offset = dlsym(handle, symbol);
    if (offset == NULL) {
        reply_error(out, "the static TLS module does not define %s", symbol);
        dlclose(handle);
        close(fd);
    } else {
        put_u64(out, (uint64_t) (uintptr_t) handle);
        put_u64(out, *offset);
        put_u32(out, (uint32_t) fd);
    }
    free(symbol);
}

void handle_static_tls_close(struct reader *in, struct reply *out) {
    uint64_t handle;
    uint32_t fd;
    if (!read_u64(in, "handle", &handle) || !read_u32(in, "fd", &fd) || !read_end(in)) {
        reply_malformed(out, in);
        return;
    }
    if (dlclose((void *) (uintptr_t) handle) != 0) {
        const char *why = dlerror();
        reply_error(out, "dlclose of a static TLS module: %s", why != NULL ? why : "failed");
    }
    close((int) fd);
}
