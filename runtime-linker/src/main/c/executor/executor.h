/*
 * The executor's own declarations, shared by its files; the contract with the JVM is protocol.h.
 * Every file includes this one first, so that _GNU_SOURCE is defined before any system header.
 */
#ifndef JDYLD_EXECUTOR_H
#define JDYLD_EXECUTOR_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "protocol.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Exit statuses of the executor itself (a program it runs chooses its own). */
#define EXIT_USAGE 2
#define EXIT_PROTOCOL 3

/* channel.c: whole messages on the socket, and descriptors that came with them. */

/* The socket; -1 in a child that loaded code forked (it must never speak for the executor). */
extern int jdx_socket;
/* Held while a message is being written, so that a crash report never lands inside a reply. */
extern atomic_int jdx_channel_busy;

struct request {
    uint16_t opcode;
    uint32_t id;
    const unsigned char *payload;
    uint32_t length;
};

/* Reads the next request; exits 0 at end of file, EXIT_PROTOCOL on a bad header. */
void channel_read(struct request *request);
/* Writes one message, whole; exits 0 if the JVM has gone. */
void channel_send(uint16_t opcode, uint32_t id, const void *payload, size_t length);
/* A descriptor received with the current request, or -1. The caller owns it. */
int channel_take_descriptor(void);
/* Closes descriptors the current request brought that no handler took. */
void channel_discard_descriptors(void);
/* The 16-byte header; async-signal-safe (the crash handler uses it). */
void jdx_header(unsigned char out[JDX_HEADER_SIZE], uint16_t opcode, uint32_t id, uint32_t length);

/* payload.c: checked reading of a request's fields, building of a reply. */

struct reader {
    const char *operation;
    const unsigned char *data;
    size_t size;
    size_t at;
    char problem[192];
};

int read_u32(struct reader *in, const char *field, uint32_t *value);
int read_u64(struct reader *in, const char *field, uint64_t *value);
/* A string field as a NUL-terminated malloc'd copy (free it); one with a NUL byte inside is refused. */
int read_string(struct reader *in, const char *field, char **value);
/* At least count * minimum bytes left: bounds a count before anything is allocated for it. */
int read_count_fits(struct reader *in, const char *field, uint32_t count, size_t minimum);
int read_end(struct reader *in);

struct reply {
    unsigned char *data;
    size_t size;
    size_t capacity;
    int error;     /* data is a UTF-8 message: send JDX_ERROR */
    int exhausted; /* memory ran out while building it */
};

void put_bytes(struct reply *out, const void *bytes, size_t length);
void put_u32(struct reply *out, uint32_t value);
void put_u64(struct reply *out, uint64_t value);
void put_string(struct reply *out, const char *value);
void reply_error(struct reply *out, const char *format, ...) __attribute__((format(printf, 2, 3)));
/* The error reply for a payload the reader could not take apart (in->problem). */
void reply_malformed(struct reply *out, const struct reader *in);
void reply_reset(struct reply *out);

typedef void handler(struct reader *in, struct reply *out);

/* memory.c */
handler handle_map_window, handle_protect, handle_unmap;
/* Whether an address lies in a window of loaded code and data (async-signal-safe). */
int memory_in_window(uint64_t address);
/* symbols.c */
handler handle_lookup, handle_dlopen, handle_register_frames, handle_deregister_frames;
/* calls.c */
handler handle_call, handle_run_main, handle_executable_stack;
/* exits.c */
handler handle_finalize;
/* Registers the one real atexit handler that runs the sets' handlers still registered. */
int exits_install(void);
/* tls.c */
handler handle_tls_create, handle_tls_delete;
/* main.c: handles one request and replies; also for requests the JVM makes while serving an upcall. */
void serve_request(struct request request);
/* upcalls.c */
handler handle_upcall_thunk;
/* memory.c */
handler handle_maps;
/* static_tls.c */
handler handle_static_tls_load, handle_static_tls_close;

/* machine_<arch>.c: the one file per architecture (the others compile to nothing). */
#include <signal.h>
#include <ucontext.h>
#define MACHINE_THUNK_SIZE 32
uintptr_t machine_pc(const ucontext_t *context);
uintptr_t machine_sp(const ucontext_t *context);
uintptr_t machine_frame_pointer(const ucontext_t *context);
/* For a jump or call to a bad address: 1, with where the return address is on the stack
 * (return_address_at, 0 if not there) or the return address itself (from a link register). */
int machine_bad_jump_return(const siginfo_t *info, const ucontext_t *context, uintptr_t *return_address_at,
                            uintptr_t *return_address);
/* Whether the 8 bytes before a code address end with a call instruction (it is a return address). */
int machine_follows_call(const unsigned char before[8]);
/* An upcall thunk: puts `index` where jdyld_upcall_entry expects it and jumps there. */
void machine_write_thunk(unsigned char thunk[MACHINE_THUNK_SIZE], uint32_t index, uintptr_t entry);
void jdyld_upcall_entry(void);
/* Before code pages become executable (they were written through the JVM's mapping): makes the
 * instruction side see the new bytes. */
void machine_prepare_code(uintptr_t address, size_t length);
/* Calls an IFUNC resolver as the machine's dynamic loader does (AArch64: with AT_HWCAP and the
 * __ifunc_arg_t of the hardware capabilities) and returns its answer. */
uint64_t jdyld_resolve_ifunc(uint64_t resolver);
/* The thread pointer (%fs:0, tpidr_el0): static TLS offsets are from it. */
uintptr_t jdyld_thread_pointer(void);
uint64_t jdyld_upcall_dispatch(uint32_t index, uint64_t registers[15]);

/* crash.c: reports a fatal signal on the socket, then dies by it. 0, or an errno value. */
int crash_install(void);

/* The bootstrap symbols (HELLO's table): loaded code calls them, so they keep default visibility. */
int jdyld_cxa_atexit(void (*function)(void *), void *argument, void *dso);
int jdyld_cxa_at_quick_exit(void (*function)(void), void *dso);
int jdyld_register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void), void *dso);
struct jdyld_tls_index {
    uint64_t module;
    uint64_t offset;
};
void *jdyld_tls_slow_path(struct jdyld_tls_index *index);

#endif
