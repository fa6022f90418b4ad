/*
 * Calls from loaded code into the JVM: a Java function defined for the sets, or a lazy symbol's
 * first call, which the JVM materializes. Each index has a thunk here (pages of them, written once
 * and then only executable) that puts the index in %r11 and jumps to jdyld_upcall_entry, which
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

#define THUNK_SIZE 32
#define THUNKS_PER_PAGE_GROUP 1024
#define MAX_GROUPS 64

static unsigned char *groups[MAX_GROUPS];


void jdyld_upcall_entry(void);
uint64_t jdyld_upcall_dispatch(uint32_t index, uint64_t registers[15]);

/* registers[0..5]: rdi rsi rdx rcx r8 r9; [6..13]: xmm0..7; [14]: the result's xmm0. */
__asm__(".text\n"
        ".globl jdyld_upcall_entry\n"
        ".type jdyld_upcall_entry, @function\n"
        "jdyld_upcall_entry:\n"
        "  push %rbp\n"
        "  mov %rsp, %rbp\n"
        "  sub $128, %rsp\n"
        "  mov %rdi, 0(%rsp)\n"
        "  mov %rsi, 8(%rsp)\n"
        "  mov %rdx, 16(%rsp)\n"
        "  mov %rcx, 24(%rsp)\n"
        "  mov %r8, 32(%rsp)\n"
        "  mov %r9, 40(%rsp)\n"
        "  movsd %xmm0, 48(%rsp)\n"
        "  movsd %xmm1, 56(%rsp)\n"
        "  movsd %xmm2, 64(%rsp)\n"
        "  movsd %xmm3, 72(%rsp)\n"
        "  movsd %xmm4, 80(%rsp)\n"
        "  movsd %xmm5, 88(%rsp)\n"
        "  movsd %xmm6, 96(%rsp)\n"
        "  movsd %xmm7, 104(%rsp)\n"
        "  mov %r11d, %edi\n"
        "  mov %rsp, %rsi\n"
        "  call jdyld_upcall_dispatch\n"
        "  movsd 112(%rsp), %xmm0\n"
        "  leave\n"
        "  ret\n"
        ".size jdyld_upcall_entry, .-jdyld_upcall_entry\n");

/* A group of thunks, each: mov $index, %r11d; movabs $jdyld_upcall_entry, %r10; jmp *%r10. Written
 * while the pages are only writable, then made only executable. */
static unsigned char *make_group(uint32_t first) {
    size_t size = (size_t) THUNKS_PER_PAGE_GROUP * THUNK_SIZE;
    unsigned char *code = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED) {
        return NULL;
    }
    uint64_t entry = (uint64_t) (uintptr_t) jdyld_upcall_entry;
    for (uint32_t i = 0; i < THUNKS_PER_PAGE_GROUP; i++) {
        unsigned char *thunk = code + (size_t) i * THUNK_SIZE;
        uint32_t index = first + i;
        memset(thunk, 0xcc, THUNK_SIZE);
        thunk[0] = 0x41;
        thunk[1] = 0xbb;
        memcpy(thunk + 2, &index, 4);
        thunk[6] = 0x49;
        thunk[7] = 0xba;
        memcpy(thunk + 8, &entry, 8);
        thunk[16] = 0x41;
        thunk[17] = 0xff;
        thunk[18] = 0xe2;
    }
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
