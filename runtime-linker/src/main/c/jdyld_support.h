/*
 * jdyld's native support library, loaded into the process that runs loaded code (the JVM, or
 * later the child-process executor): what cannot be written in Java because it runs where the JVM
 * cannot, in a signal handler or at the very start and end of a thread.
 *
 * Every function is bound in dev.jdyld.runtime.support.SupportLibrary; keep the two in step.
 */
#ifndef JDYLD_SUPPORT_H
#define JDYLD_SUPPORT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* fault_report.c: a fault in loaded code ends the process with the signal, and says where. */

/* Puts the fault handler in front of the ones installed now (the JVM's), for SIGSEGV, SIGBUS,
 * SIGILL and SIGFPE; faults elsewhere go on to them. Idempotent. 0, or an errno value. */
int jdyld_faults_install(void);

/* The code of a loaded set, [start, end), for reports: `table` holds `count` symbol addresses
 * (uintptr_t, ascending), then `count` offsets (uint32_t) of their names in the names that follow,
 * the set's name first at offset 0, each NUL-terminated; `table_size` bytes in all. It is copied.
 * Returns an id for jdyld_faults_unregister, or -1 without memory. */
long jdyld_faults_register(uintptr_t start, uintptr_t end, const void *table, size_t table_size, size_t count);

void jdyld_faults_unregister(long id);

/* Gives the calling thread an alternate signal stack, so that a stack overflow in loaded code on it
 * is reported too (the handler cannot run on the stack that overflowed). 0, or an errno value. */
int jdyld_faults_alternate_stack(void);

/* executable_stack.c: threads that run code which needs an executable stack (GNU C nested
 * functions write trampolines there) get one, and only they. */

/* Makes the calling thread's stack executable until the thread ends: the writable mapping that
 * holds its stack pointer, within the thread's stack. 0, or an errno value. */
int jdyld_stack_make_executable(void);

/* pthread_create for code that needs an executable stack: the new thread makes its own stack
 * executable before it runs start_routine. */
int jdyld_pthread_create_executable_stack(pthread_t *thread, const pthread_attr_t *attr,
                                          void *(*start_routine)(void *), void *arg);

/* dlopen(name, flags); when it fails, dlerror()'s text copied into error (size bytes, NUL-terminated). */
void *jdyld_dlopen(const char *name, int flags, char *error, size_t size);

#endif
