/*
 * Whole messages on the JVM's socket. Requests are read exactly, header then payload, never ahead:
 * so a descriptor sent with SCM_RIGHTS arrives on one of the recvmsg calls that read its own
 * request (which one depends on how the kernel split the stream), and is kept until the handler
 * takes it or the request is done.
 */
#include "executor.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int jdx_socket = -1;
atomic_int jdx_channel_busy;

/* A request carries at most one descriptor; room for a few more so that extras are seen and closed. */
#define MAX_DESCRIPTORS 8

static int descriptors[MAX_DESCRIPTORS];
static int descriptor_count;
static unsigned char *payload;
static size_t payload_capacity;

void jdx_header(unsigned char out[JDX_HEADER_SIZE], uint16_t opcode, uint32_t id, uint32_t length) {
    uint32_t magic = JDX_MAGIC;
    uint16_t version = JDX_VERSION;
    memcpy(out, &magic, 4);
    memcpy(out + 4, &version, 2);
    memcpy(out + 6, &opcode, 2);
    memcpy(out + 8, &id, 4);
    memcpy(out + 12, &length, 4);
}

static void keep_descriptors(struct msghdr *message) {
    for (struct cmsghdr *c = CMSG_FIRSTHDR(message); c != NULL; c = CMSG_NXTHDR(message, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (descriptor_count < MAX_DESCRIPTORS) {
                descriptors[descriptor_count++] = fd;
            } else {
                close(fd);
            }
        }
    }
}

/* Fills buffer; the end of the stream, anywhere, means the JVM went away or closed its end. */
static void receive(void *buffer, size_t length) {
    size_t done = 0;
    while (done < length) {
        struct iovec part = {(unsigned char *) buffer + done, length - done};
        union {
            char bytes[CMSG_SPACE(sizeof(int) * MAX_DESCRIPTORS)];
            struct cmsghdr align;
        } control;
        struct msghdr message = {0};
        message.msg_iov = &part;
        message.msg_iovlen = 1;
        message.msg_control = control.bytes;
        message.msg_controllen = sizeof control.bytes;
        ssize_t n = recvmsg(jdx_socket, &message, MSG_CMSG_CLOEXEC);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            exit(errno == ECONNRESET ? 0 : EXIT_PROTOCOL);
        }
        keep_descriptors(&message);
        if (n == 0) {
            exit(0);
        }
        done += (size_t) n;
    }
}

void channel_read(struct request *request) {
    unsigned char header[JDX_HEADER_SIZE];
    receive(header, sizeof header);
    uint32_t magic;
    uint16_t version;
    memcpy(&magic, header, 4);
    memcpy(&version, header + 4, 2);
    memcpy(&request->opcode, header + 6, 2);
    memcpy(&request->id, header + 8, 4);
    memcpy(&request->length, header + 12, 4);
    if (magic != JDX_MAGIC || version != JDX_VERSION || request->length > JDX_MAX_PAYLOAD) {
        exit(EXIT_PROTOCOL);
    }
    if (request->length > payload_capacity) {
        unsigned char *bigger = realloc(payload, request->length);
        if (bigger == NULL) {
            /* The stream must stay in step: read the payload away, the handler sees none. */
            unsigned char scratch[4096];
            for (uint32_t left = request->length; left > 0;) {
                uint32_t n = left < sizeof scratch ? left : (uint32_t) sizeof scratch;
                receive(scratch, n);
                left -= n;
            }
            request->payload = NULL;
            return;
        }
        payload = bigger;
        payload_capacity = request->length;
    }
    receive(payload, request->length);
    request->payload = payload;
}

int channel_take_descriptor(void) {
    if (descriptor_count == 0) {
        return -1;
    }
    int fd = descriptors[0];
    memmove(descriptors, descriptors + 1, (size_t) (descriptor_count - 1) * sizeof(int));
    descriptor_count--;
    return fd;
}

void channel_discard_descriptors(void) {
    while (descriptor_count > 0) {
        close(descriptors[--descriptor_count]);
    }
}

/* The crash handler holds the channel only until the process dies; wait for it, do not interleave. */
static void acquire(void) {
    int expected = 0;
    while (!atomic_compare_exchange_weak(&jdx_channel_busy, &expected, 1)) {
        expected = 0;
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
}

void channel_send(uint16_t opcode, uint32_t id, const void *data, size_t length) {
    unsigned char header[JDX_HEADER_SIZE];
    jdx_header(header, opcode, id, (uint32_t) length);
    struct iovec parts[2] = {{header, sizeof header}, {(void *) data, length}};
    struct msghdr message = {0};
    message.msg_iov = parts;
    message.msg_iovlen = length > 0 ? 2 : 1;
    acquire();
    while (message.msg_iovlen > 0) {
        ssize_t n = sendmsg(jdx_socket, &message, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            atomic_store(&jdx_channel_busy, 0);
            exit(errno == EPIPE || errno == ECONNRESET ? 0 : EXIT_PROTOCOL);
        }
        size_t sent = (size_t) n;
        while (message.msg_iovlen > 0 && sent >= message.msg_iov->iov_len) {
            sent -= message.msg_iov->iov_len;
            message.msg_iov++;
            message.msg_iovlen--;
        }
        if (message.msg_iovlen > 0) {
            message.msg_iov->iov_base = (unsigned char *) message.msg_iov->iov_base + sent;
            message.msg_iov->iov_len -= sent;
        }
    }
    atomic_store(&jdx_channel_busy, 0);
}
