/*
 * dlopen with its error message taken at once, in C: glibc frees dlerror()'s text at the thread's
 * next failing dl* call, and the JVM makes such calls of its own between two downcalls (a message
 * read from Java came out with its first bytes overwritten by the allocator).
 */
#define _GNU_SOURCE
#include "jdyld_support.h"

#include <dlfcn.h>
#include <string.h>

void *jdyld_dlopen(const char *name, int flags, char *error, size_t size) {
    void *handle = dlopen(name, flags);
    if (handle == NULL && size > 0) {
        const char *why = dlerror();
        strncpy(error, why != NULL ? why : "dlopen failed", size - 1);
        error[size - 1] = '\0';
    }
    return handle;
}
