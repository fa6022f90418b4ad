/*
 * jdyld-executor protocol, version 1: the one contract between the JVM (dev.jdyld.runtime.child.Protocol)
 * and the executor. Keep both sides in step; bump JDX_VERSION on any change.
 *
 * Transport: a SOCK_STREAM socket pair the JVM creates; the executor gets its end as a descriptor
 * number in argv[1]. Nothing listens anywhere. Byte order is the machine's (both ends run on it).
 *
 * Every message is a 16-byte header and `length` payload bytes:
 *   u32 magic 'JDX1' (0x3158444a), u16 version, u16 opcode, u32 id, u32 length
 * A request from the JVM carries an id; the executor answers it with the same id and opcode
 * (JDX_REPLY | opcode) and its result, or JDX_ERROR with a UTF-8 message (errno text copied at
 * once). Messages larger than JDX_MAX_PAYLOAD, a wrong magic or version end the executor (exit 3).
 * The executor serves one request at a time, in order, on its main thread.
 *
 * Payload fields are packed, little-endian on x86-64, 8-byte fields unaligned-safe (read with memcpy).
 * A string is u32 length + bytes (no NUL).
 */
#ifndef JDYLD_EXECUTOR_PROTOCOL_H
#define JDYLD_EXECUTOR_PROTOCOL_H

#include <stdint.h>

#define JDX_MAGIC 0x3158444au
#define JDX_VERSION 1
#define JDX_HEADER_SIZE 16
#define JDX_MAX_PAYLOAD (16u << 20)

#define JDX_REPLY 0x8000
#define JDX_ERROR 0x7fff

enum jdx_opcode {
    /* executor -> JVM, first message, unsolicited (id 0):
       u32 pid, u64 page size, u64 anchor (address of the executor's libc `printf`: where host code is),
       u32 count, then count x (string name, u64 address): the bootstrap symbols
         jdyld_cxa_atexit(fn, arg, dso)       __cxa_atexit with per-set lists, see JDX_FINALIZE
         jdyld_cxa_at_quick_exit(fn, dso)      glue target for at_quick_exit
         jdyld_register_atfork(pre, parent, child, dso)
         jdyld_tls_slow_path(tls_index *)      first access of a thread to a set's TLS block
         pthread_getspecific, free             called by the emitted TLS fast path and key destructor
         __cxa_thread_atexit_impl              thread_local destructors (libc's own)
         pthread_create                        libc's */
    JDX_HELLO = 1,

    /* u64 address, u64 size; one descriptor in SCM_RIGHTS: a memory file. Maps it, from offset 0,
       PROT_NONE, MAP_SHARED | MAP_FIXED_NOREPLACE | MAP_NORESERVE at address; closes the descriptor.
       Reply: empty. */
    JDX_MAP_WINDOW = 2,
    /* u64 address, u64 length, u32 prot (PROT_* bits). PROT_WRITE together with PROT_EXEC is refused.
       Reply: empty. */
    JDX_PROTECT = 3,
    /* u64 address, u64 length. Reply: empty. */
    JDX_UNMAP = 4,

    /* u32 count, count x string. Reply: count x u64 address (0 = not found). Search order:
       dlsym(RTLD_DEFAULT), then the libraries JDX_DLOPEN opened, in order. */
    JDX_LOOKUP = 5,
    /* string name (what dlopen takes). dlopen(RTLD_NOW | RTLD_GLOBAL). Reply: u64 handle, or JDX_ERROR
       with dlerror()'s text. */
    JDX_DLOPEN = 6,

    /* u64 function, u32 return kind (JDX_RETURN_*), u32 unused, u64 integer args[6], u64 double args[8]
       (raw bits). Calls function(ints..., doubles...) per SysV (al = 8). Reply: u64 rax, u64 xmm0 bits. */
    JDX_CALL = 7,
    /* u64 main, u32 argc, argc x string. Calls main(argc, argv, environ), then fflush(NULL).
       Reply: u32 status (main's return value). A program that calls exit() ends the executor with
       that status, after the exit handlers (the sets' included) have run. */
    JDX_RUN_MAIN = 8,

    /* u64 destructor, u64 template address, u64 template size, u64 block size, u64 alignment.
       Creates a pthread key with that destructor for a set's TLS block. Reply: u32 key. */
    JDX_TLS_CREATE = 9,
    /* u32 key. Deletes the key (blocks of live threads are freed by their destructors or leak).
       Reply: empty. A block is aligned to max(alignment, 16); the 16 bytes before it hold the pointer
       malloc returned and the address of the word that owns the block (the emitted key destructor
       swaps that word to 0 and frees the block if it was not 0). The template fits in the block. */
    JDX_TLS_DELETE = 10,

    /* u64 dso handle (0 is a handle like any other, not "all"). Runs, newest first, the exit handlers
       registered with jdyld_cxa_atexit for that handle, then __cxa_finalize(handle): what the set
       registered with the C library's own __cxa_atexit and pthread_atfork. Reply: empty. */
    JDX_FINALIZE = 11,
    /* u64 address of an .eh_frame section's start: __register_frame / __deregister_frame. Reply: empty. */
    JDX_REGISTER_FRAMES = 12,
    JDX_DEREGISTER_FRAMES = 13,
    /* Makes the executor's main-thread stack executable (a set with GNU C nested-function trampolines).
       Reply: empty. */
    JDX_EXECUTABLE_STACK = 14,
    /* Reply: empty; then the executor exits 0. */
    JDX_SHUTDOWN = 15,

    /* executor -> JVM, unsolicited (id 0), from the fatal-signal handler on its alternate stack, just
       before it dies by that signal: i32 signal, i32 si_code, u64 fault address (si_addr), u64 pc,
       u64 sp, u32 frame count, count x u64 return addresses, at most 64: the word at [sp] when the
       fault was a jump to a bad address, then the frame-pointer walk, then words of the stack that
       point into a window just after a call instruction. */
    JDX_CRASH = 16,

    /* string symbol, u64 length, length bytes: a shared object whose PT_TLS block asks for static TLS.
       Loads it from a memory file (kept open while it is loaded). Reply: u64 handle, u64 the value of
       its `symbol` (the block's offset from the thread pointer), u32 the memory file's descriptor. */
    JDX_STATIC_TLS_LOAD = 17,
    /* u64 handle, u32 descriptor: dlclose, then close. Reply: empty. */
    JDX_STATIC_TLS_CLOSE = 18,

    /* u32 index. Reply: u64 the address of a function that, called by loaded code with any SysV
       arguments (six integer, eight vector registers), sends JDX_UPCALL with that index and returns
       what the JVM answers. */
    JDX_UPCALL_THUNK = 19,
    /* executor -> JVM, on the thread that runs the current request, while it runs: u32 index, u32
       unused, u64 integer args[6], u64 vector args[8]. The JVM may make requests meanwhile; they are
       served, nested, before its reply: u64 rax, u64 xmm0 bits. */
    JDX_UPCALL = 20,

    /* Empty. Reply: the text of the executor's /proc/self/maps: its own view of its address space,
       which under qemu-user is the guest's (the host's /proc/PID/maps of qemu shows guest code
       without execute permission, and qemu's own mappings). */
    JDX_MAPS = 21,
};

enum jdx_return_kind {
    JDX_RETURN_INTEGER = 0, /* void, integers and pointers: rax */
    JDX_RETURN_DOUBLE = 1,  /* double: xmm0 */
    JDX_RETURN_FLOAT = 2,   /* float: low 32 bits of xmm0 */
};

#endif
