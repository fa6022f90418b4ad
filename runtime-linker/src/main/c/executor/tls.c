/*
 * Thread-local storage of the loaded sets: each set's TLS block lives, per thread, under a pthread
 * key of the set; the tls_index the set's code passes holds the key as its module. The emitted fast
 * path finds a thread's block with pthread_getspecific; the first access of a thread comes here.
 *
 * Block layout, shared with the key destructor the JVM emits (X86_64TlsCode):
 *   raw = malloc(block size + alignment + 24)
 *   raw + 0:    the owning slot, a word that holds the block's address
 *   block - 16: raw          (what the destructor frees)
 *   block - 8:  &slot        (the destructor swaps it to 0 first, and frees only if it was not 0)
 *   block:      the template, then zeros, aligned as the set asks
 */
#include "executor.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* glibc's PTHREAD_KEYS_MAX: keys are below it */
#define KEYS 1024
#define HEADER 24
#define MINIMUM_ALIGNMENT 16

struct tls_key {
    atomic_int live; /* published last: a slow path on another thread reads the rest after it */
    uintptr_t template_address;
    size_t template_size;
    size_t block_size;
    size_t alignment;
};

static struct tls_key keys[KEYS];

void handle_tls_create(struct reader *in, struct reply *out) {
    uint64_t destructor;
    uint64_t template_address;
    uint64_t template_size;
    uint64_t block_size;
    uint64_t alignment;
    if (!read_u64(in, "destructor", &destructor) || !read_u64(in, "template address", &template_address)
            || !read_u64(in, "template size", &template_size) || !read_u64(in, "block size", &block_size)
            || !read_u64(in, "alignment", &alignment) || !read_end(in)) {
        reply_malformed(out, in);
        return;
    }
    if (alignment < MINIMUM_ALIGNMENT) {
        alignment = MINIMUM_ALIGNMENT;
    }
    if ((alignment & (alignment - 1)) != 0 || alignment > (1u << 30)) {
        reply_error(out, "TLS_CREATE: alignment %lu is not a power of two up to 2^30", (unsigned long) alignment);
        return;
    }
    if (template_size > block_size || block_size > (uint64_t) SIZE_MAX / 2) {
        reply_error(out, "TLS_CREATE: template of %lu bytes, block of %lu bytes", (unsigned long) template_size,
                    (unsigned long) block_size);
        return;
    }
    pthread_key_t key;
    int error = pthread_key_create(&key, (void (*)(void *)) (uintptr_t) destructor);
    if (error != 0) {
        reply_error(out, "pthread_key_create: %s", strerror(error));
        return;
    }
    if (key >= KEYS) {
        pthread_key_delete(key);
        reply_error(out, "pthread_key_create: key %u is beyond the executor's table of %d", key, KEYS);
        return;
    }
    struct tls_key *entry = &keys[key];
    entry->template_address = (uintptr_t) template_address;
    entry->template_size = (size_t) template_size;
    entry->block_size = (size_t) block_size;
    entry->alignment = (size_t) alignment;
    atomic_store_explicit(&entry->live, 1, memory_order_release);
    put_u32(out, key);
}

void handle_tls_delete(struct reader *in, struct reply *out) {
    uint32_t key;
    if (!read_u32(in, "key", &key) || !read_end(in)) {
        reply_malformed(out, in);
    } else if (key >= KEYS || !atomic_load(&keys[key].live)) {
        reply_error(out, "TLS_DELETE: key %u was not created by TLS_CREATE", key);
    } else {
        atomic_store(&keys[key].live, 0);
        int error = pthread_key_delete(key);
        if (error != 0) {
            reply_error(out, "pthread_key_delete %u: %s", key, strerror(error));
        }
    }
}

void *jdyld_tls_slow_path(struct jdyld_tls_index *index) {
    int key = (int) index->module;
    if (key < 0 || key >= KEYS || !atomic_load_explicit(&keys[key].live, memory_order_acquire)) {
        return NULL;
    }
    const struct tls_key *entry = &keys[key];
    unsigned char *raw = malloc(entry->block_size + entry->alignment + HEADER);
    if (raw == NULL) {
        return NULL;
    }
    uintptr_t block = ((uintptr_t) raw + HEADER + entry->alignment - 1) & ~(uintptr_t) (entry->alignment - 1);
    uintptr_t *slot = (uintptr_t *) raw;
    *slot = block;
    uintptr_t header[2] = {(uintptr_t) raw, (uintptr_t) slot};
    memcpy((void *) (block - 16), header, sizeof header);
    memcpy((void *) block, (const void *) entry->template_address, entry->template_size);
    memset((void *) (block + entry->template_size), 0, entry->block_size - entry->template_size);
    if (pthread_setspecific((pthread_key_t) key, (void *) block) != 0) {
        free(raw);
        return NULL;
    }
    return (void *) (block + index->offset);
}
