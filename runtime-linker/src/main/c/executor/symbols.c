/*
 * Host symbols for the JVM's linker: this process's libraries, not the JVM's, are what the loaded
 * code calls. Also the unwinder's frame registration, which lives in libgcc_s.
 */
#include "executor.h"

#include <dlfcn.h>
#include <stdlib.h>

static void **handles;
static size_t handle_count;

static uint64_t lookup(const char *name) {
    void *address = dlsym(RTLD_DEFAULT, name);
    for (size_t i = 0; address == NULL && i < handle_count; i++) {
        address = dlsym(handles[i], name);
    }
    return (uint64_t) (uintptr_t) address;
}

void handle_lookup(struct reader *in, struct reply *out) {
    uint32_t count;
    if (!read_u32(in, "count", &count) || !read_count_fits(in, "count", count, 4)) {
        reply_malformed(out, in);
        return;
    }
    for (uint32_t i = 0; i < count; i++) {
        char *name;
        if (!read_string(in, "name", &name)) {
            reply_malformed(out, in);
            return;
        }
        put_u64(out, lookup(name));
        free(name);
    }
    if (!read_end(in)) {
        reply_malformed(out, in);
    }
}

static int remember(void *handle) {
    for (size_t i = 0; i < handle_count; i++) {
        if (handles[i] == handle) {
            return 1; /* opened before: dlopen counted one more reference, the search order stays */
        }
    }
    void **more = realloc(handles, (handle_count + 1) * sizeof *handles);
    if (more == NULL) {
        return 0;
    }
    handles = more;
    handles[handle_count++] = handle;
    return 1;
}

void handle_dlopen(struct reader *in, struct reply *out) {
    char *name;
    if (!read_string(in, "name", &name)) {
        reply_malformed(out, in);
        return;
    }
    if (!read_end(in)) {
        reply_malformed(out, in);
        free(name);
        return;
    }
    dlerror();
    void *handle = dlopen(name, RTLD_NOW | RTLD_GLOBAL);
    if (handle == NULL) {
        const char *why = dlerror(); /* copied at once: the next dl* call may overwrite it */
        reply_error(out, "%s", why != NULL ? why : "dlopen failed");
    } else if (!remember(handle)) {
        dlclose(handle);
        reply_error(out, "dlopen %s: out of memory", name);
    } else {
        put_u64(out, (uint64_t) (uintptr_t) handle);
    }
    free(name);
}

/* libgcc_s's; declared here only for their type: found at first use, not linked against. */
void __register_frame(void *begin);
void __deregister_frame(void *begin);
typedef __typeof__(__register_frame) frame_function;

static frame_function *find_frame_function(const char *name, struct reply *out) {
    void *function = dlsym(RTLD_DEFAULT, name);
    if (function == NULL) {
        dlerror();
        void *libgcc = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_GLOBAL);
        if (libgcc == NULL) {
            const char *why = dlerror();
            reply_error(out, "%s: %s", name, why != NULL ? why : "libgcc_s.so.1 cannot be loaded");
            return NULL;
        }
        function = dlsym(libgcc, name);
    }
    if (function == NULL) {
        reply_error(out, "%s: not found in libgcc_s.so.1", name);
    }
    return (frame_function *) function;
}

static void frames(struct reader *in, struct reply *out, const char *name, frame_function **cached) {
    uint64_t address;
    if (!read_u64(in, "address", &address) || !read_end(in)) {
        reply_malformed(out, in);
        return;
    }
    if (*cached == NULL && (*cached = find_frame_function(name, out)) == NULL) {
        return;
    }
    (*cached)((void *) (uintptr_t) address);
}

void handle_register_frames(struct reader *in, struct reply *out) {
    static frame_function *register_frame;
    frames(in, out, "__register_frame", &register_frame);
}

void handle_deregister_frames(struct reader *in, struct reply *out) {
    static frame_function *deregister_frame;
    frames(in, out, "__deregister_frame", &deregister_frame);
}
