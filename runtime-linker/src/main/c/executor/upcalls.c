/*
 * Calls from loaded code into the JVM: a Java function defined for the sets, or a lazy symbol's
 * first call, which the JVM materializes. Each index has a thunk here (pages of them, written once
 * and then only executable) that puts the index in a scratch register and jumps to jdyld_upcall_entry
 * (both per architecture, machine_<arch>.c), which
 * saves the argument registers and asks the JVM (JDX_UPCALL) on the socket. While the JVM serves the
 * call it may make requests of its own (a lazy symbol's set is loaded, a Java function calls loaded
 * code); they are served here, nested, until its reply comes.
 *
 * Only the thread that runs the JVM's current request may call into the JVM: it is the one the JVM
 * waits on. A call from another thread (one the loaded code started) aborts, reported as a crash.
 */
#include "executor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define THUNK_SIZE MACHINE_THUNK_SIZE
#define THUNKS_PER_PAGE_GROUP 1024
#define MAX_GROUPS 64

static unsigned char *groups[MAX_GROUPS];


/* A group of thunks, written while the pages are only writable, then made only executable (and the
 * instruction cache told, where the machine needs it). */
static unsigned char *make_group(uint32_t first) {
    size_t size = (size_t) THUNKS_PER_PAGE_GROUP * THUNK_SIZE;
    unsigned char *code = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED) {
        return NULL;
    }
    for (uint32_t i = 0; i < THUNKS_PER_PAGE_GROUP; i++) {
        machine_write_thunk(code + (size_t) i * THUNK_SIZE, first + i, (uintptr_t) jdyld_upcall_entry);
    }
    __builtin___clear_cache((char *) code, (char *) code + size);
    if (mprotect(code, size, PROT_READ | PROT_EXEC) != 0) {
        munmap(code, size);
        return NULL;
    }
    return code;
}

void handle_upcall_thunk(struct reader *in, struct reply *out) {
    uint32_t index;
    if (!read_u32(in, "index", &index) || !read_end(in)) {
        reply_malformed(out, in);
        return;
    }
    uint32_t group = index / THUNKS_PER_PAGE_GROUP;
    if (group >= MAX_GROUPS) {
        reply_error(out, "UPCALL_THUNK: index %u beyond the %u thunks there are", index,
                    THUNKS_PER_PAGE_GROUP * MAX_GROUPS);
        return;
    }
    if (groups[group] == NULL && (groups[group] = make_group(group * THUNKS_PER_PAGE_GROUP)) == NULL) {
        reply_error(out, "UPCALL_THUNK: cannot map thunks: %s", strerror(errno));
        return;
    }

    put_u64(out, (uint64_t) (uintptr_t) (groups[group] + (size_t) (index % THUNKS_PER_PAGE_GROUP) * THUNK_SIZE));
}

uint64_t jdyld_upcall_dispatch(uint32_t index, uint64_t registers[15]) {
    if (gettid() != getpid()) {
        static const char message[] = "jdyld-executor: a call into Java from a thread the loaded code started;"
                                      " only the thread that runs the JVM's call may call back\n";
        ssize_t ignored = write(2, message, sizeof message - 1);
        (void) ignored;
        abort();
    }
    unsigned char payload[8 + 14 * 8];
    uint32_t unused = 0;
    memcpy(payload, &index, 4);
    memcpy(payload + 4, &unused, 4);
    memcpy(payload + 8, registers, 14 * 8);
    static uint32_t next_id = 1;
    uint32_t id = next_id++;
    channel_send(JDX_UPCALL, id, payload, sizeof payload);
    for (;;) {
        struct request message;
        channel_read(&message);
        if (message.opcode == (JDX_REPLY | JDX_UPCALL) && message.id == id) {
            uint64_t rax = 0;
            uint64_t xmm0 = 0;
            if (message.payload != NULL && message.length >= 16) {
                memcpy(&rax, message.payload, 8);
                memcpy(&xmm0, message.payload + 8, 8);
            }
            registers[14] = xmm0;
            return rax;
        }
        serve_request(message);
    }
}
