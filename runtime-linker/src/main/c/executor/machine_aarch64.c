/*
 * The executor's AArch64 facts: the registers a fatal signal's context holds, what a return
 * address follows, the upcall thunk and the entry it jumps to (AAPCS64: integer arguments in
 * x0-x7, vector arguments in v0-v7, results in x0 and d0; on Linux variadic arguments are passed
 * as named ones, which CALL relies on).
 */
#include "executor.h"

#if defined(__aarch64__)

#include <string.h>
#include <sys/auxv.h>
#include <sys/ifunc.h>
#include <sys/mman.h>
#include <unistd.h>

uintptr_t machine_pc(const ucontext_t *context) {
    return (uintptr_t) context->uc_mcontext.pc;
}

uintptr_t machine_sp(const ucontext_t *context) {
    return (uintptr_t) context->uc_mcontext.sp;
}

uintptr_t machine_frame_pointer(const ucontext_t *context) {
    return (uintptr_t) context->uc_mcontext.regs[29];
}

/* A branch-and-link through a bad pointer faults at the target with the return address in the
 * link register (x30), not on the stack. */
int machine_bad_jump_return(const siginfo_t *info, const ucontext_t *context, uintptr_t *return_address_at,
                            uintptr_t *return_address) {
    uintptr_t pc = machine_pc(context);
    int fetch = (info->si_signo == SIGSEGV || info->si_signo == SIGBUS) && (uintptr_t) info->si_addr == pc;
    if (pc != 0 && !fetch) {
        return 0;
    }
    *return_address_at = 0;
    *return_address = (uintptr_t) context->uc_mcontext.regs[30];
    return 1;
}

/* Whether the instruction before a return address is a branch with link: BL imm26 or BLR Xn. */
int machine_follows_call(const unsigned char before[8]) {
    uint32_t instruction;
    memcpy(&instruction, before + 4, 4);
    return (instruction & 0xfc000000u) == 0x94000000u || (instruction & 0xfffffc1fu) == 0xd63f0000u;
}

/* movz w16, #index_lo; movk w16, #index_hi, lsl 16; ldr x17, entry; br x17; entry: .quad */
void machine_write_thunk(unsigned char thunk[MACHINE_THUNK_SIZE], uint32_t index, uintptr_t entry) {
    uint32_t code[4] = {
        0x52800000u | ((index & 0xffffu) << 5) | 16u,
        0x72a00000u | ((index >> 16) << 5) | 16u,
        0x58000000u | (2u << 5) | 17u, /* the literal 8 bytes ahead */
        0xd61f0220u,
    };
    uint64_t target = entry;
    memset(thunk, 0, MACHINE_THUNK_SIZE);
    memcpy(thunk, code, sizeof code);
    memcpy(thunk + sizeof code, &target, 8);
}

/* registers[0..5]: x0-x5; [6..13]: d0-d7; [14]: the result's d0. The index is in w16. */
__asm__(".text\n"
        ".globl jdyld_upcall_entry\n"
        ".type jdyld_upcall_entry, %function\n"
        "jdyld_upcall_entry:\n"
        "  stp x29, x30, [sp, #-144]!\n"
        "  mov x29, sp\n"
        "  stp x0, x1, [sp, #16]\n"
        "  stp x2, x3, [sp, #32]\n"
        "  stp x4, x5, [sp, #48]\n"
        "  stp d0, d1, [sp, #64]\n"
        "  stp d2, d3, [sp, #80]\n"
        "  stp d4, d5, [sp, #96]\n"
        "  stp d6, d7, [sp, #112]\n"
        "  mov w0, w16\n"
        "  add x1, sp, #16\n"
        "  bl jdyld_upcall_dispatch\n"
        "  ldr d0, [sp, #128]\n"
        "  ldp x29, x30, [sp], #144\n"
        "  ret\n"
        ".size jdyld_upcall_entry, .-jdyld_upcall_entry\n");

/*
 * The JVM wrote the code through its own mapping of the memory file. The data side is coherent,
 * so cleaning to the point of unification and invalidating the instruction cache by this mapping's
 * addresses (__builtin___clear_cache) is enough on hardware. An emulator (qemu-user) caches its
 * translations of a page and drops them when the guest writes to it, or not at all when the write
 * came through another mapping: so each page is first written here, with the byte it holds, while
 * it is writable and not executable (a page that held an earlier set's code is thus retranslated).
 */
void machine_prepare_code(uintptr_t address, size_t length) {
    size_t page = (size_t) sysconf(_SC_PAGESIZE);
    if (length == 0 || mprotect((void *) address, length, PROT_READ | PROT_WRITE) != 0) {
        return;
    }
    for (uintptr_t at = address; at < address + length; at += page) {
        volatile unsigned char *byte = (volatile unsigned char *) at;
        *byte = *byte;
    }
    __builtin___clear_cache((char *) address, (char *) (address + length));
}

/* As glibc's ld.so calls an AArch64 resolver: (AT_HWCAP | _IFUNC_ARG_HWCAP, &{size, hwcap, hwcap2}). */
uint64_t jdyld_resolve_ifunc(uint64_t resolver) {
    __ifunc_arg_t arg = {sizeof arg, getauxval(AT_HWCAP), getauxval(AT_HWCAP2)};
    return (uint64_t) (uintptr_t) ((void *(*)(uint64_t, const __ifunc_arg_t *)) (uintptr_t) resolver)(
        arg._hwcap | _IFUNC_ARG_HWCAP, &arg);
}

uintptr_t jdyld_thread_pointer(void) {
    return (uintptr_t) __builtin_thread_pointer();
}

#endif
