/*
 * The executor's x86-64 facts: the registers a fatal signal's context holds, what a return address
 * follows, the upcall thunk and the entry it jumps to (SysV: integer arguments in rdi, rsi, rdx,
 * rcx, r8, r9; vector arguments in xmm0-7; results in rax and xmm0).
 */
#include "executor.h"

#if defined(__x86_64__)

#include <string.h>

/* Page-fault error code: the fault was an instruction fetch. */
#define PF_INSTRUCTION 0x10

uintptr_t machine_pc(const ucontext_t *context) {
    return (uintptr_t) context->uc_mcontext.gregs[REG_RIP];
}

uintptr_t machine_sp(const ucontext_t *context) {
    return (uintptr_t) context->uc_mcontext.gregs[REG_RSP];
}

uintptr_t machine_frame_pointer(const ucontext_t *context) {
    return (uintptr_t) context->uc_mcontext.gregs[REG_RBP];
}

/* A call through a bad pointer faults at the target with the caller's return address on top of
 * the stack: where that address is, 0 when the fault was not a jump to a bad address. */
int machine_bad_jump_return(const siginfo_t *info, const ucontext_t *context, uintptr_t *return_address_at,
                            uintptr_t *return_address) {
    uintptr_t pc = machine_pc(context);
    int fetch = (info->si_signo == SIGSEGV || info->si_signo == SIGBUS)
                && ((uintptr_t) info->si_addr == pc || (context->uc_mcontext.gregs[REG_ERR] & PF_INSTRUCTION) != 0);
    if (pc != 0 && !fetch) {
        return 0;
    }
    *return_address_at = machine_sp(context);
    *return_address = 0;
    return 1;
}

/* Whether the 8 bytes before a return address end with a call: rel32 (e8), indirect through a
 * register (ff d0+r, REX for r8-r15) or through memory (ff 15 rip-relative, ff /2 [reg]). */
int machine_follows_call(const unsigned char before[8]) {
    return before[3] == 0xe8 || (before[6] == 0xff && (before[7] & 0xf8) == 0xd0)
           || (before[2] == 0xff && before[3] == 0x15) || (before[6] == 0xff && (before[7] & 0x38) == 0x10);
}

/* mov $index, %r11d; movabs $entry, %r10; jmp *%r10 */
void machine_write_thunk(unsigned char thunk[MACHINE_THUNK_SIZE], uint32_t index, uintptr_t entry) {
    uint64_t target = entry;
    memset(thunk, 0xcc, MACHINE_THUNK_SIZE);
    thunk[0] = 0x41;
    thunk[1] = 0xbb;
    memcpy(thunk + 2, &index, 4);
    thunk[6] = 0x49;
    thunk[7] = 0xba;
    memcpy(thunk + 8, &target, 8);
    thunk[16] = 0x41;
    thunk[17] = 0xff;
    thunk[18] = 0xe2;
}

/* registers[0..5]: rdi rsi rdx rcx r8 r9; [6..13]: xmm0..7; [14]: the result's xmm0. The index is in r11. */
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

/* The instruction side snoops stores on x86-64: nothing to do. */
void machine_prepare_code(uintptr_t address, size_t length) {
    (void) address;
    (void) length;
}

/* x86-64 resolvers take no arguments (they read the CPU's features themselves). */
uint64_t jdyld_resolve_ifunc(uint64_t resolver) {
    return (uint64_t) (uintptr_t) ((void *(*)(void)) (uintptr_t) resolver)();
}

uintptr_t jdyld_thread_pointer(void) {
    return (uintptr_t) __builtin_thread_pointer();
}

#endif
