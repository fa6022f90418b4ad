/*
 * An executable stack for exactly the threads that need one. A GNU C nested function whose address
 * is taken is called through a trampoline that its enclosing function writes on the stack; the
 * object says so with an executable .note.GNU-stack section, and a program linked from it gets an
 * executable stack (PT_GNU_STACK), for every thread glibc makes. jdyld cannot change the JVM's
 * process that way, and should not: only the threads that run such a set's code get one, the
 * thread jdyld runs main on, Java threads that call into the set, and threads the set's code starts
 * (its pthread_create is this one's). Each thread's stack goes back to not executable when the
 * thread ends, before glibc caches the stack for another thread.
 */
#define _GNU_SOURCE
#include "jdyld_support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

struct range {
    uintptr_t start;
    size_t length;
};

static pthread_key_t executable_stacks;
static pthread_once_t executable_stacks_once = PTHREAD_ONCE_INIT;

/* At the thread's end: its stack is not executable any more. */
static void restore(void *value) {
    struct range *range = value;
    mprotect((void *) range->start, range->length, PROT_READ | PROT_WRITE);
    free(range);
}

static void make_key(void) {
    pthread_key_create(&executable_stacks, restore);
}

/* The mapping that holds `address`, within [low, high): the part of the thread's stack that its
 * guard pages (the JVM's and glibc's, mappings of their own) do not cover. */
static int stack_mapping(uintptr_t address, uintptr_t low, uintptr_t high, struct range *found) {
    FILE *maps = fopen("/proc/self/maps", "re");
    if (maps == NULL) {
        return errno;
    }
    unsigned long start;
    unsigned long end;
    char permissions[8];
    int result = ESRCH;
    char line[512];
    while (fgets(line, sizeof line, maps) != NULL) {
        if (sscanf(line, "%lx-%lx %7s", &start, &end, permissions) == 3 && start <= address && address < end) {
            if (permissions[0] == 'r' && permissions[1] == 'w') {
                uintptr_t from = start > low ? start : low;
                uintptr_t to = end < high ? end : high;
                found->start = from;
                found->length = to - from;
                result = 0;
            }
            break;
        }
    }
    fclose(maps);
    return result;
}

int jdyld_stack_make_executable(void) {
    pthread_once(&executable_stacks_once, make_key);
    if (pthread_getspecific(executable_stacks) != NULL) {
        return 0; /* made so before */
    }
    pthread_attr_t attributes;
    int result = pthread_getattr_np(pthread_self(), &attributes);
    if (result != 0) {
        return result;
    }
    void *low;
    size_t size;
    result = pthread_attr_getstack(&attributes, &low, &size);
    pthread_attr_destroy(&attributes);
    if (result != 0) {
        return result;
    }
    struct range *range = malloc(sizeof *range);
    if (range == NULL) {
        return ENOMEM;
    }
    uintptr_t here = (uintptr_t) __builtin_frame_address(0);
    result = stack_mapping(here, (uintptr_t) low, (uintptr_t) low + size, range);
    if (result == 0 && mprotect((void *) range->start, range->length, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) {
        result = errno;
    }
    if (result == 0 && pthread_setspecific(executable_stacks, range) != 0) {
        restore(range);
        return ENOMEM;
    }
    if (result != 0) {
        free(range);
    }
    return result;
}

struct start {
    void *(*routine)(void *);
    void *argument;
};

static void *start_with_executable_stack(void *value) {
    struct start start = *(struct start *) value;
    free(value);
    jdyld_stack_make_executable(); /* without it the thread runs on, and a trampoline faults, reported */
    return start.routine(start.argument);
}

int jdyld_pthread_create_executable_stack(pthread_t *thread, const pthread_attr_t *attr,
                                          void *(*start_routine)(void *), void *arg) {
    struct start *start = malloc(sizeof *start);
    if (start == NULL) {
        return EAGAIN;
    }
    start->routine = start_routine;
    start->argument = arg;
    int result = pthread_create(thread, attr, start_with_executable_stack, start);
    if (result != 0) {
        free(start);
    }
    return result;
}
