/*
 * jdyld-executor: runs a JVM's loaded code in a process of its own, so that a crash of that code
 * ends this process only, after it has told the JVM where (crash.c). The JVM links the code and
 * places it in memory files; this process maps them where the JVM says and calls into them.
 *
 * Usage: jdyld-executor SOCKET-FD. One request at a time, on the main thread; see protocol.h.
 */
#include "executor.h"
#include "../jdyld_support.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *name;
    handler *handle;
} HANDLERS[] = {
    [JDX_MAP_WINDOW] = {"MAP_WINDOW", handle_map_window},
    [JDX_PROTECT] = {"PROTECT", handle_protect},
    [JDX_UNMAP] = {"UNMAP", handle_unmap},
    [JDX_LOOKUP] = {"LOOKUP", handle_lookup},
    [JDX_DLOPEN] = {"DLOPEN", handle_dlopen},
    [JDX_CALL] = {"CALL", handle_call},
    [JDX_RUN_MAIN] = {"RUN_MAIN", handle_run_main},
    [JDX_TLS_CREATE] = {"TLS_CREATE", handle_tls_create},
    [JDX_TLS_DELETE] = {"TLS_DELETE", handle_tls_delete},
    [JDX_FINALIZE] = {"FINALIZE", handle_finalize},
    [JDX_REGISTER_FRAMES] = {"REGISTER_FRAMES", handle_register_frames},
    [JDX_DEREGISTER_FRAMES] = {"DEREGISTER_FRAMES", handle_deregister_frames},
    [JDX_EXECUTABLE_STACK] = {"EXECUTABLE_STACK", handle_executable_stack},
    [JDX_SHUTDOWN] = {"SHUTDOWN", NULL},
    [JDX_STATIC_TLS_LOAD] = {"STATIC_TLS_LOAD", handle_static_tls_load},
    [JDX_STATIC_TLS_CLOSE] = {"STATIC_TLS_CLOSE", handle_static_tls_close},
    [JDX_UPCALL_THUNK] = {"UPCALL_THUNK", handle_upcall_thunk},
    [JDX_MAPS] = {"MAPS", handle_maps},
};
#define HANDLER_COUNT (sizeof HANDLERS / sizeof HANDLERS[0])

/* The definition calls from this executable bind to (a preloaded malloc's free, if there is one: the
 * emitted key destructor frees what the slow path here allocated), never a PLT entry of its own. */
static uint64_t host_symbol(const char *name) {
    return (uint64_t) (uintptr_t) dlsym(RTLD_DEFAULT, name);
}

static void send_hello(void) {
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    struct reply hello = {0};
    put_u32(&hello, (uint32_t) getpid());
    put_u64(&hello, (uint64_t) sysconf(_SC_PAGESIZE));
    put_u64(&hello, libc == NULL ? host_symbol("printf") : (uint64_t) (uintptr_t) dlsym(libc, "printf"));
    static const char *const HOST[] = {"pthread_getspecific", "free", "__cxa_thread_atexit_impl", "pthread_create"};
    put_u32(&hello, 7 + sizeof HOST / sizeof HOST[0]);
    put_string(&hello, "jdyld_resolve_ifunc");
    put_u64(&hello, (uint64_t) (uintptr_t) jdyld_resolve_ifunc);
    put_string(&hello, "jdyld_thread_pointer");
    put_u64(&hello, (uint64_t) (uintptr_t) jdyld_thread_pointer);
    put_string(&hello, "jdyld_pthread_create_executable_stack");
    put_u64(&hello, (uint64_t) (uintptr_t) jdyld_pthread_create_executable_stack);
    put_string(&hello, "jdyld_cxa_atexit");
    put_u64(&hello, (uint64_t) (uintptr_t) jdyld_cxa_atexit);
    put_string(&hello, "jdyld_cxa_at_quick_exit");
    put_u64(&hello, (uint64_t) (uintptr_t) jdyld_cxa_at_quick_exit);
    put_string(&hello, "jdyld_register_atfork");
    put_u64(&hello, (uint64_t) (uintptr_t) jdyld_register_atfork);
    put_string(&hello, "jdyld_tls_slow_path");
    put_u64(&hello, (uint64_t) (uintptr_t) jdyld_tls_slow_path);
    for (size_t i = 0; i < sizeof HOST / sizeof HOST[0]; i++) {
        put_string(&hello, HOST[i]);
        put_u64(&hello, host_symbol(HOST[i]));
    }
    if (hello.exhausted) {
        exit(EXIT_FAILURE);
    }
    channel_send(JDX_HELLO, 0, hello.data, hello.size);
    free(hello.data);
}

/* The JVM leaks descriptors into its children; none of them is this process's business. */
static void close_inherited(int keep) {
    if (keep < 3) {
        close_range(3, ~0U, 0);
        return;
    }
    if (keep > 3 && close_range(3, (unsigned) keep - 1, 0) != 0 && errno == ENOSYS) {
        for (int fd = 3; fd < keep; fd++) {
            close(fd);
        }
    }
    if (close_range((unsigned) keep + 1, ~0U, 0) != 0 && errno == ENOSYS) {
        long limit = sysconf(_SC_OPEN_MAX);
        for (long fd = keep + 1; fd < (limit > 0 && limit < 65536 ? limit : 65536); fd++) {
            close((int) fd);
        }
    }
}

static int socket_argument(int argc, char **argv) {
    char *end = NULL;
    long fd = argc == 2 ? strtol(argv[1], &end, 10) : -1;
    struct stat status;
    if (end == NULL || end == argv[1] || *end != '\0' || fd < 0 || fd > 1 << 20 || fstat((int) fd, &status) != 0
            || !S_ISSOCK(status.st_mode)) {
        fprintf(stderr, "usage: jdyld-executor SOCKET-FD\n");
        exit(EXIT_USAGE);
    }
    return (int) fd;
}

/* Handles one request and sends its reply (or error). Called again from within a request when
 * loaded code calls into the JVM (upcalls.c): the JVM may make requests while it serves the call. */
void serve_request(struct request request) {
    struct reply reply = {0};
    {
        const char *name = request.opcode < HANDLER_COUNT ? HANDLERS[request.opcode].name : NULL;
        reply_reset(&reply);
        if (name == NULL) {
            reply_error(&reply, "unknown request opcode %u", request.opcode);
        } else if (request.payload == NULL && request.length > 0) {
            reply_error(&reply, "%s: no memory for a payload of %u bytes", name, request.length);
        } else if (HANDLERS[request.opcode].handle != NULL) {
            struct reader in = {.operation = name, .data = request.payload, .size = request.length};
            HANDLERS[request.opcode].handle(&in, &reply);
        }
        channel_discard_descriptors();
        if (reply.exhausted) {
            reply_reset(&reply);
            reply_error(&reply, "%s: out of memory", name);
        }
        if (reply.size > JDX_MAX_PAYLOAD) {
            size_t size = reply.size;
            reply_error(&reply, "%s: reply of %zu bytes exceeds the protocol's maximum", name, size);
        }
        uint16_t opcode = reply.error ? JDX_ERROR : (uint16_t) (JDX_REPLY | request.opcode);
        channel_send(opcode, request.id, reply.data, reply.size);
        free(reply.data);
        if (request.opcode == JDX_SHUTDOWN) {
            exit(0); /* the exit handlers run, as at the end of a native program */
        }
    }
}

static void serve(void) {
    for (;;) {
        struct request request;
        channel_read(&request);
        serve_request(request);
    }
}

int main(int argc, char **argv) {
    /* The parent changed between the two calls: the JVM died before the death signal was armed.
     * A parent of 1 alone proves nothing (a JVM may be a container's init); a JVM that died before
     * this ran has closed its end of the socket, and the first read or write ends this process. */
    pid_t parent = getppid();
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) {
        return 0;
    }
    int fd = socket_argument(argc, argv);
    close_inherited(fd);
    fcntl(fd, F_SETFD, FD_CLOEXEC); /* programs it execs must not hold the JVM's channel open */
    jdx_socket = fd;
    int error = crash_install();
    if (error == 0) {
        error = exits_install();
    }
    if (error != 0) {
        fprintf(stderr, "jdyld-executor: cannot start: %s\n", strerror(error));
        return EXIT_FAILURE;
    }
    send_hello();
    serve();
}
