/*
 * A fault in loaded code ends the process promptly, with the signal's usual exit status, and one
 * line on stderr that says what happened, where, in which set and near which symbol.
 *
 * The JVM handles SIGSEGV itself (implicit null checks, safepoint polls, stack banging) and treats
 * any other as its own crash: a report file and abort(). Worse, a jump into a thread's stack (a
 * GNU C nested function's trampoline on a stack that is not executable) looks to it like a touch
 * of a stack it should grow, so it "grows" it and retries the jump forever. So this handler runs
 * first: a fault whose program counter is in a loaded set's code, or that jumped to a bad address
 * from there (the return address on the stack is in a set), is reported and then re-raised with
 * the default action; every other fault goes to the handler that was installed before (the
 * JVM's), exactly as if this one were not there.
 *
 * Only async-signal-safe calls are made in the handler. Sets are found in chunks of slots that are
 * never freed; an unregistered set's table is freed only after RETIRED more have been, so that a
 * handler that read a slot just before it was cleared still reads valid memory.
 */
#define _GNU_SOURCE
#include "jdyld_support.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

struct code_range {
    uintptr_t start;
    uintptr_t end;
    size_t count;
    const uintptr_t *addresses;
    const uint32_t *name_offsets;
    const char *names;
    /* the table follows */
};

#define SLOTS 256
#define RETIRED 64
/* enough for this handler and the JVM's, which runs on it too for the JVM's own faults */
#define ALTERNATE_STACK (256 * 1024)

struct chunk {
    _Atomic(struct code_range *) slots[SLOTS];
    _Atomic(struct chunk *) next;
};

static struct chunk first_chunk;
static _Atomic uintptr_t lowest = UINTPTR_MAX;
static _Atomic uintptr_t highest = 0;
static pthread_mutex_t registry = PTHREAD_MUTEX_INITIALIZER;
static struct code_range *retired[RETIRED];
static size_t next_retired;

static const int SIGNALS[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE};
#define SIGNAL_COUNT (sizeof SIGNALS / sizeof SIGNALS[0])
static struct sigaction previous[SIGNAL_COUNT];
static int installed;

/* x86-64 page-fault error code bits, in REG_ERR */
#define PF_WRITE 0x2
#define PF_INSTRUCTION 0x10

static const struct code_range *find(uintptr_t pc) {
    if (pc < atomic_load_explicit(&lowest, memory_order_acquire)
            || pc >= atomic_load_explicit(&highest, memory_order_acquire)) {
        return NULL;
    }
    for (struct chunk *c = &first_chunk; c != NULL; c = atomic_load_explicit(&c->next, memory_order_acquire)) {
        for (int i = 0; i < SLOTS; i++) {
            const struct code_range *range = atomic_load_explicit(&c->slots[i], memory_order_acquire);
            if (range != NULL && range->start <= pc && pc < range->end) {
                return range;
            }
        }
    }
    return NULL;
}

/* ---- a line built without malloc or stdio ---- */

struct line {
    char text[512];
    size_t length;
};

static void put(struct line *line, const char *text) {
    while (*text != '\0' && line->length < sizeof line->text - 1) {
        line->text[line->length++] = *text++;
    }
}

static void put_hex(struct line *line, uintptr_t value) {
    char digits[2 + 16 + 1];
    int n = 0;
    char reversed[16];
    do {
        reversed[n++] = "0123456789abcdef"[value & 0xf];
        value >>= 4;
    } while (value != 0);
    digits[0] = '0';
    digits[1] = 'x';
    for (int i = 0; i < n; i++) {
        digits[2 + i] = reversed[n - 1 - i];
    }
    digits[2 + n] = '\0';
    put(line, digits);
}

/* "symbol+0x12 in set NAME" for an address of a set's code */
static void put_where(struct line *line, const struct code_range *range, uintptr_t address) {
    size_t low = 0;
    size_t high = range->count;
    while (low < high) { /* the last symbol at or below the address */
        size_t middle = low + (high - low) / 2;
        if (range->addresses[middle] <= address) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    put_hex(line, address);
    if (low > 0) {
        put(line, " (");
        put(line, range->names + range->name_offsets[low - 1]);
        if (address != range->addresses[low - 1]) {
            put(line, "+");
            put_hex(line, address - range->addresses[low - 1]);
        }
        put(line, ")");
    }
    put(line, " in set ");
    put(line, range->names);
}

static const char *signal_name(int sig) {
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    default: return "SIGFPE";
    }
}

static void report(int sig, const siginfo_t *info, const ucontext_t *context,
                   const struct code_range *range, uintptr_t where, int jumped) {
    uintptr_t address = (uintptr_t) info->si_addr;
    uintptr_t sp = (uintptr_t) context->uc_mcontext.gregs[REG_RSP];
    long error = context->uc_mcontext.gregs[REG_ERR];
    struct line line = {.length = 0};
    put(&line, "jdyld: ");
    put(&line, signal_name(sig));
    put(&line, " in loaded code: ");
    if (jumped) {
        int into_stack = address + (16u << 20) > sp && address < sp + (16u << 20);
        put(&line, into_stack ? "jump into this thread's stack at " : "jump to non-executable or unmapped memory at ");
        put_hex(&line, address);
        put(&line, ", called from ");
        put_where(&line, range, where);
        if (into_stack) {
            put(&line, "; the code needs an executable stack (a GNU C nested function's trampoline) and this thread has none");
        }
    } else {
        if (sig == SIGILL) {
            put(&line, "illegal instruction");
        } else if (sig == SIGFPE) {
            put(&line, "arithmetic error (division by zero or overflow)");
        } else if (address + 65536 >= sp && address < sp + 4096) {
            put(&line, "stack overflow (");
            put(&line, (error & PF_WRITE) ? "write to " : "read of ");
            put_hex(&line, address);
            put(&line, ", by the stack pointer)");
        } else {
            put(&line, (error & PF_INSTRUCTION) ? "execute " : (error & PF_WRITE) ? "write to " : "read of ");
            put_hex(&line, address);
            put(&line, info->si_code == SEGV_MAPERR ? " (not mapped)" : " (not permitted)");
        }
        put(&line, " at ");
        put_where(&line, range, where);
    }
    put(&line, "\n");
    ssize_t ignored = write(STDERR_FILENO, line.text, line.length);
    (void) ignored;
}

static int index_of(int sig) {
    for (size_t i = 0; i < SIGNAL_COUNT; i++) {
        if (SIGNALS[i] == sig) {
            return (int) i;
        }
    }
    return -1;
}

static void handler(int sig, siginfo_t *info, void *raw) {
    ucontext_t *context = raw;
    uintptr_t pc = (uintptr_t) context->uc_mcontext.gregs[REG_RIP];
    const struct code_range *range = find(pc);
    uintptr_t where = pc;
    int jumped = 0;
    if (range == NULL && (sig == SIGSEGV || sig == SIGBUS) && (uintptr_t) info->si_addr == pc) {
        /* A call or jump to a bad address: the return address a call pushed says who did it. */
        uintptr_t return_address = *(const uintptr_t *) context->uc_mcontext.gregs[REG_RSP];
        range = find(return_address);
        where = return_address;
        jumped = range != NULL;
    }
    int i = index_of(sig);
    if (range != NULL) {
        report(sig, info, context, range, where, jumped);
        struct sigaction fallback = {.sa_handler = SIG_DFL};
        sigemptyset(&fallback.sa_mask);
        sigaction(sig, &fallback, NULL);
        return; /* the instruction faults again, now with the default action: the process ends */
    }
    const struct sigaction *before = &previous[i];
    if (before->sa_flags & SA_SIGINFO) {
        before->sa_sigaction(sig, info, raw);
    } else if (before->sa_handler == SIG_DFL) {
        struct sigaction fallback = {.sa_handler = SIG_DFL};
        sigemptyset(&fallback.sa_mask);
        sigaction(sig, &fallback, NULL);
    } else if (before->sa_handler != SIG_IGN) {
        before->sa_handler(sig);
    }
}

int jdyld_faults_install(void) {
    pthread_mutex_lock(&registry);
    int result = 0;
    for (size_t i = 0; !installed && i < SIGNAL_COUNT; i++) {
        struct sigaction ours;
        if (sigaction(SIGNALS[i], NULL, &previous[i]) != 0) {
            result = errno;
            break;
        }
        ours = previous[i]; /* the same mask and flags the JVM chose, our function in front */
        ours.sa_sigaction = handler;
        ours.sa_flags |= SA_SIGINFO | SA_ONSTACK;
        ours.sa_flags &= ~SA_RESETHAND;
        if (sigaction(SIGNALS[i], &ours, NULL) != 0) {
            result = errno;
            break;
        }
    }
    if (result == 0) {
        installed = 1;
    }
    pthread_mutex_unlock(&registry);
    return result;
}

long jdyld_faults_register(uintptr_t start, uintptr_t end, const void *table, size_t table_size, size_t count) {
    struct code_range *range = malloc(sizeof *range + table_size);
    if (range == NULL) {
        return -1;
    }
    char *copy = (char *) (range + 1);
    memcpy(copy, table, table_size);
    range->start = start;
    range->end = end;
    range->count = count;
    range->addresses = (const uintptr_t *) copy;
    range->name_offsets = (const uint32_t *) (copy + count * sizeof(uintptr_t));
    range->names = copy + count * (sizeof(uintptr_t) + sizeof(uint32_t));
    pthread_mutex_lock(&registry);
    long id = 0;
    for (struct chunk *c = &first_chunk;; id += SLOTS) {
        for (int i = 0; i < SLOTS; i++) {
            if (atomic_load_explicit(&c->slots[i], memory_order_relaxed) == NULL) {
                if (start < atomic_load(&lowest)) {
                    atomic_store(&lowest, start);
                }
                if (end > atomic_load(&highest)) {
                    atomic_store(&highest, end);
                }
                atomic_store_explicit(&c->slots[i], range, memory_order_release);
                pthread_mutex_unlock(&registry);
                return id + i + 1;
            }
        }
        struct chunk *next = atomic_load_explicit(&c->next, memory_order_relaxed);
        if (next == NULL) {
            next = calloc(1, sizeof *next);
            if (next == NULL) {
                pthread_mutex_unlock(&registry);
                free(range);
                return -1;
            }
            atomic_store_explicit(&c->next, next, memory_order_release);
        }
        c = next;
    }
}

void jdyld_faults_unregister(long id) {
    if (id <= 0) {
        return;
    }
    pthread_mutex_lock(&registry);
    struct chunk *c = &first_chunk;
    for (long n = (id - 1) / SLOTS; n > 0 && c != NULL; n--) {
        c = atomic_load_explicit(&c->next, memory_order_relaxed);
    }
    if (c != NULL) {
        struct code_range *range = atomic_exchange(&c->slots[(id - 1) % SLOTS], NULL);
        free(retired[next_retired]);
        retired[next_retired] = range;
        next_retired = (next_retired + 1) % RETIRED;
    }
    pthread_mutex_unlock(&registry);
}

static pthread_key_t alternate_stacks;
static pthread_once_t alternate_stacks_once = PTHREAD_ONCE_INIT;

/* At the thread's end: its alternate stack goes (it is not on it then). */
static void free_alternate_stack(void *memory) {
    stack_t off = {.ss_flags = SS_DISABLE};
    sigaltstack(&off, NULL);
    munmap(memory, ALTERNATE_STACK);
}

static void make_alternate_stacks_key(void) {
    pthread_key_create(&alternate_stacks, free_alternate_stack);
}

int jdyld_faults_alternate_stack(void) {
    stack_t current;
    if (sigaltstack(NULL, &current) != 0) {
        return errno;
    }
    if (!(current.ss_flags & SS_DISABLE)) {
        return 0; /* the thread has one */
    }
    void *memory = mmap(NULL, ALTERNATE_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (memory == MAP_FAILED) {
        return errno;
    }
    stack_t alternate = {.ss_sp = memory, .ss_size = ALTERNATE_STACK, .ss_flags = 0};
    pthread_once(&alternate_stacks_once, make_alternate_stacks_key);
    if (sigaltstack(&alternate, NULL) != 0 || pthread_setspecific(alternate_stacks, memory) != 0) {
        int error = errno;
        stack_t off = {.ss_flags = SS_DISABLE};
        sigaltstack(&off, NULL);
        munmap(memory, ALTERNATE_STACK);
        return error;
    }
    return 0;
}
