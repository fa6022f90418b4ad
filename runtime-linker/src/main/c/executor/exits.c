/*
 * Exit handlers of the loaded sets. A set's __cxa_atexit (its C++ static destructors, its atexit
 * calls) lands here, in a list of this process's own rather than libc's, so that closing one set
 * (JDX_FINALIZE) runs that set's handlers and no other's, before its code is unmapped. What is left
 * at process exit runs then, newest first, as libc would for a native program.
 *
 * Handlers run without the lock held: a handler may register another, or a set's thread may
 * register one while another set is being finalized.
 */
#include "executor.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct exit_handler {
    void (*function)(void *);
    void *argument;
    void *dso;
};

static struct exit_handler *handlers;
static size_t count;
static size_t capacity;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

int jdyld_cxa_atexit(void (*function)(void *), void *argument, void *dso) {
    pthread_mutex_lock(&lock);
    if (count == capacity) {
        size_t more = capacity == 0 ? 64 : capacity * 2;
        struct exit_handler *bigger = realloc(handlers, more * sizeof *handlers);
        if (bigger == NULL) {
            pthread_mutex_unlock(&lock);
            return -1; /* as __cxa_atexit reports failure */
        }
        handlers = bigger;
        capacity = more;
    }
    handlers[count++] = (struct exit_handler) {function, argument, dso};
    pthread_mutex_unlock(&lock);
    return 0;
}

/* Removes the newest handler of dso (of any, if all) into *taken; 0 when there is none. */
static int take(void *dso, int all, struct exit_handler *taken) {
    int found = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = count; i-- > 0;) {
        if (all || handlers[i].dso == dso) {
            *taken = handlers[i];
            for (size_t j = i + 1; j < count; j++) {
                handlers[j - 1] = handlers[j];
            }
            count--;
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    return found;
}

static void run(void *dso, int all) {
    struct exit_handler handler;
    while (take(dso, all, &handler)) {
        handler.function(handler.argument);
    }
}

static void run_all(void) {
    run(NULL, 1);
}

/* glibc's; not in its headers */
void __cxa_finalize(void *dso);

void handle_finalize(struct reader *in, struct reply *out) {
    uint64_t dso;
    if (!read_u64(in, "dso", &dso) || !read_end(in)) {
        reply_malformed(out, in);
        return;
    }
    run((void *) (uintptr_t) dso, 0);
    /* What the set registered with libc's own __cxa_atexit (its atexit glue, C++ static destructors,
     * its fini array) and pthread_atfork, as dlclose runs them for a shared object. */
    __cxa_finalize((void *) (uintptr_t) dso);
}

/* libc's own list, for quick_exit; it runs no handler at a normal exit, so nothing is lost. */
int jdyld_cxa_at_quick_exit(void (*function)(void), void *dso) {
    (void) dso;
    return at_quick_exit(function);
}

int jdyld_register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void), void *dso) {
    (void) dso;
    return pthread_atfork(prepare, parent, child);
}

/* A child that loaded code forks is a copy of that code, not the executor: it must not answer or
 * report on the JVM's channel, nor keep the JVM from seeing it close when the executor ends. */
static void forked_child(void) {
    if (jdx_socket >= 0) {
        close(jdx_socket);
        jdx_socket = -1;
    }
}

int exits_install(void) {
    if (atexit(run_all) != 0) {
        return ENOMEM;
    }
    return pthread_atfork(NULL, NULL, forked_child);
}
