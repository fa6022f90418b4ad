/*
 * A request's fields are read through a reader that knows how much is left: a payload too short for
 * its fields, or a string longer than what remains, becomes an error reply that names the field,
 * never a read past the end. Replies grow as they are built; running out of memory is remembered
 * and becomes an error reply once, at the end.
 */
#include "executor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int take(struct reader *in, const char *field, size_t length) {
    if (in->problem[0] != '\0') {
        return 0; /* the first problem is the one reported */
    }
    if (in->size - in->at >= length) {
        return 1;
    }
    snprintf(in->problem, sizeof in->problem, "%s: payload too short for '%s' (%zu bytes at offset %zu, %zu left)",
             in->operation, field, length, in->at, in->size - in->at);
    return 0;
}

int read_u32(struct reader *in, const char *field, uint32_t *value) {
    if (!take(in, field, 4)) {
        return 0;
    }
    memcpy(value, in->data + in->at, 4);
    in->at += 4;
    return 1;
}

int read_u64(struct reader *in, const char *field, uint64_t *value) {
    if (!take(in, field, 8)) {
        return 0;
    }
    memcpy(value, in->data + in->at, 8);
    in->at += 8;
    return 1;
}

int read_string(struct reader *in, const char *field, char **value) {
    size_t start = in->at;
    uint32_t length;
    if (!read_u32(in, field, &length)) {
        return 0;
    }
    if (length > in->size - in->at) {
        snprintf(in->problem, sizeof in->problem,
                 "%s: string '%s' at offset %zu has length %u, beyond the payload (%zu bytes left)",
                 in->operation, field, start, length, in->size - in->at);
        return 0;
    }
    if (memchr(in->data + in->at, '\0', length) != NULL) {
        snprintf(in->problem, sizeof in->problem, "%s: string '%s' at offset %zu contains a NUL byte",
                 in->operation, field, start);
        return 0;
    }
    char *copy = malloc((size_t) length + 1);
    if (copy == NULL) {
        snprintf(in->problem, sizeof in->problem, "%s: no memory for string '%s' (%u bytes)", in->operation,
                 field, length);
        return 0;
    }
    memcpy(copy, in->data + in->at, length);
    copy[length] = '\0';
    in->at += length;
    *value = copy;
    return 1;
}

int read_count_fits(struct reader *in, const char *field, uint32_t count, size_t minimum) {
    if (in->problem[0] != '\0') {
        return 0;
    }
    if ((uint64_t) count * minimum <= in->size - in->at) {
        return 1;
    }
    snprintf(in->problem, sizeof in->problem, "%s: '%s' is %u, more than the payload's %zu bytes left can hold",
             in->operation, field, count, in->size - in->at);
    return 0;
}

int read_end(struct reader *in) {
    if (in->problem[0] != '\0') {
        return 0;
    }
    if (in->at == in->size) {
        return 1;
    }
    snprintf(in->problem, sizeof in->problem, "%s: %zu unexpected bytes after the last field (payload %zu bytes)",
             in->operation, in->size - in->at, in->size);
    return 0;
}

static int reserve(struct reply *out, size_t more) {
    if (out->exhausted) {
        return 0;
    }
    if (out->capacity - out->size >= more) {
        return 1;
    }
    size_t capacity = out->capacity < 256 ? 256 : out->capacity;
    while (capacity - out->size < more) {
        capacity *= 2;
    }
    unsigned char *bigger = realloc(out->data, capacity);
    if (bigger == NULL) {
        out->exhausted = 1;
        return 0;
    }
    out->data = bigger;
    out->capacity = capacity;
    return 1;
}

static void put(struct reply *out, const void *bytes, size_t length) {
    if (reserve(out, length)) {
        memcpy(out->data + out->size, bytes, length);
        out->size += length;
    }
}

void put_bytes(struct reply *out, const void *bytes, size_t length) {
    put(out, bytes, length);
}

void put_u32(struct reply *out, uint32_t value) {
    put(out, &value, 4);
}

void put_u64(struct reply *out, uint64_t value) {
    put(out, &value, 8);
}

void put_string(struct reply *out, const char *value) {
    size_t length = strlen(value);
    put_u32(out, (uint32_t) length);
    put(out, value, length);
}

void reply_error(struct reply *out, const char *format, ...) {
    out->size = 0;
    out->error = 1;
    va_list arguments;
    va_start(arguments, format);
    char first[512];
    int length = vsnprintf(first, sizeof first, format, arguments);
    va_end(arguments);
    if (length < 0) {
        return;
    }
    if ((size_t) length < sizeof first) {
        put(out, first, (size_t) length);
        return;
    }
    if (reserve(out, (size_t) length + 1)) { /* a long dlerror() text: keep all of it */
        va_start(arguments, format);
        vsnprintf((char *) out->data, (size_t) length + 1, format, arguments);
        va_end(arguments);
        out->size = (size_t) length;
    }
}

void reply_malformed(struct reply *out, const struct reader *in) {
    reply_error(out, "%s", in->problem);
}

void reply_reset(struct reply *out) {
    out->size = 0;
    out->error = 0;
    out->exhausted = 0;
}
