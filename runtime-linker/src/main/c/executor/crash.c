/*
 * A fatal signal (a fault in loaded code, an abort) is reported to the JVM in one JDX_CRASH message
 * and then ends the process by that same signal, so the JVM sees both the report and the usual wait
 * status. The JVM formats the report: nothing is printed here.
 *
 * Only async-signal-safe calls: no malloc, no stdio. Memory the walk reads may be anything (loaded
 * code need not keep frame pointers), so it is read with process_vm_readv, which fails with EFAULT
 * where a load would fault again. The main thread handles signals on an alternate stack, so that a
 * stack overflow there is reported too; threads that loaded code starts have none (their
 * pthread_create is libc's), and die of an overflow unreported.
 */
#include "executor.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define ALTERNATE_STACK (64 * 1024)
#define MAX_FRAMES 64
/* Words of the stack, from the stack pointer up, searched for return addresses into loaded code
 * when frame pointers do not lead there (a fault inside libc's abort, or code built without them). */
#define SCAN_WORDS 2048
/* signal, si_code, address, pc, sp, frame count */
#define CRASH_FIXED (4 + 4 + 8 + 8 + 8 + 4)

static const int FATAL[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS};

static pid_t executor;
static atomic_int reported;

static int read_words(uintptr_t address, uint64_t *words, size_t count) {
    struct iovec local = {words, count * sizeof *words};
    struct iovec remote = {(void *) address, count * sizeof *words};
    return process_vm_readv(executor, &local, 1, &remote, 1, 0) == (ssize_t) (count * sizeof *words);
}

/* Whether a code address is a return address: the bytes before it end with a call. */
static int follows_call(uint64_t address) {
    uint64_t before;
    if (address < 8 || !read_words((uintptr_t) address - 8, &before, 1)) {
        return 0;
    }
    unsigned char bytes[8];
    memcpy(bytes, &before, 8);
    return machine_follows_call(bytes);
}

/* Return addresses, innermost first: for a call to a bad address, its return address; then the
 * frame-pointer chain; then words of the stack that point into loaded code just after a call. */
static uint32_t walk(const siginfo_t *info, const ucontext_t *context, uint64_t frames[MAX_FRAMES]) {
    uintptr_t sp = machine_sp(context);
    uint32_t count = 0;
    uintptr_t return_at;
    uintptr_t return_address;
    if (machine_bad_jump_return(info, context, &return_at, &return_address)) {
        if (return_at != 0 && read_words(return_at, &frames[count], 1)) {
            count++;
        } else if (return_at == 0 && return_address != 0) {
            frames[count++] = return_address;
        }
    }
    uintptr_t fp = machine_frame_pointer(context);
    while (count < MAX_FRAMES && fp != 0 && (fp & 7) == 0 && fp >= sp) {
        uint64_t pair[2]; /* the caller's frame pointer, the return address */
        if (!read_words(fp, pair, 2) || pair[1] == 0) {
            break;
        }
        frames[count++] = pair[1];
        if (pair[0] <= fp) {
            break;
        }
        fp = (uintptr_t) pair[0];
    }
    uint64_t words[64];
    for (uint32_t scanned = 0; scanned < SCAN_WORDS && count < MAX_FRAMES; scanned += 64) {
        if (!read_words(sp + scanned * 8, words, 64)) {
            break; /* the top of the stack */
        }
        for (int i = 0; i < 64 && count < MAX_FRAMES; i++) {
            if (memory_in_window(words[i]) && follows_call(words[i])) {
                frames[count++] = words[i];
            }
        }
    }
    return count;
}

static void pause_briefly(void) {
    struct timespec pause = {0, 1000000};
    nanosleep(&pause, NULL);
}

static void report(int signal, const siginfo_t *info, const ucontext_t *context) {
    int fd = jdx_socket;
    if (fd < 0 || getpid() != executor) {
        return; /* a forked copy of loaded code: the JVM does not know it */
    }
    unsigned char message[JDX_HEADER_SIZE + CRASH_FIXED + MAX_FRAMES * 8];
    uint64_t frames[MAX_FRAMES];
    uint32_t count = walk(info, context, frames);
    int32_t code = info->si_code;
    uint64_t address = (uint64_t) (uintptr_t) info->si_addr;
    uint64_t pc = machine_pc(context);
    uint64_t sp = machine_sp(context);
    size_t length = CRASH_FIXED + count * 8;
    unsigned char *at = message + JDX_HEADER_SIZE;
    jdx_header(message, JDX_CRASH, 0, (uint32_t) length);
    memcpy(at, &signal, 4);
    memcpy(at + 4, &code, 4);
    memcpy(at + 8, &address, 8);
    memcpy(at + 16, &pc, 8);
    memcpy(at + 24, &sp, 8);
    memcpy(at + 32, &count, 4);
    memcpy(at + 36, frames, count * 8);
    /* A reply being written by the main thread is let finish (not if it is this thread, which is then
     * not writing any more); a second of it is plenty, the report matters more than a reply. */
    int expected = 0;
    int waited = 0;
    while (!atomic_compare_exchange_strong(&jdx_channel_busy, &expected, 1) && gettid() != executor
           && waited++ < 1000) {
        expected = 0;
        pause_briefly();
    }
    size_t total = JDX_HEADER_SIZE + length;
    for (size_t done = 0; done < total;) {
        ssize_t n = send(fd, message + done, total - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        done += (size_t) n;
    }
}

/* The default action for the signal, now: SA_RESETHAND restored it; the signal is blocked in its
 * handler, so it stays pending until unblocked. A fault re-raised this way ends the process too. */
static void die(int signal) {
    struct sigaction default_action = {0};
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    sigaction(signal, &default_action, NULL);
    raise(signal);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, signal);
    sigprocmask(SIG_UNBLOCK, &only, NULL);
    _exit(128 + signal);
}

static void on_fatal(int signal, siginfo_t *info, void *context) {
    if (atomic_exchange(&reported, 1) != 0) {
        /* another thread is reporting its crash and will end the process: let it finish */
        for (int i = 0; i < 2000; i++) {
            pause_briefly();
        }
    } else {
        report(signal, info, context);
    }
    die(signal);
}

int crash_install(void) {
    executor = getpid();
    long page = sysconf(_SC_PAGESIZE);
    /* with a guard page below: an overflow of the handler itself must not write into other memory */
    unsigned char *stack = mmap(NULL, ALTERNATE_STACK + (size_t) page, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        return errno;
    }
    if (mprotect(stack, (size_t) page, PROT_NONE) != 0) {
        return errno;
    }
    stack_t alternate = {.ss_sp = stack + page, .ss_size = ALTERNATE_STACK, .ss_flags = 0};
    if (sigaltstack(&alternate, NULL) != 0) {
        return errno;
    }
    struct sigaction action = {0};
    action.sa_sigaction = on_fatal;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < sizeof FATAL / sizeof FATAL[0]; i++) {
        if (sigaction(FATAL[i], &action, NULL) != 0) {
            return errno;
        }
    }
    return 0;
}
