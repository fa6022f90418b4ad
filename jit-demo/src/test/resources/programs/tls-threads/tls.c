/* Thread-local variables updated by threads the loaded code creates itself: each thread must
 * see its own copy, initialised from .tdata (int, string) and zeroed from .tbss (long, static). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

__thread int counter = 100;
__thread long total;
__thread char label[64] = "initial label";
static __thread int hidden;
__thread __attribute__((aligned(64))) int aligned_tls = 64;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long results[4][4];
static char labels[4][64];

static void work(int id) {
    for (int i = 0; i < 1000; i++) {
        counter++;
        total += id + i;
        hidden += 2;
    }
    snprintf(label, sizeof label, "thread %d was here", id);
}

static void *thread_main(void *arg) {
    int id = (int) (long) arg;
    work(id);
    pthread_mutex_lock(&lock);
    results[id][0] = counter;
    results[id][1] = total;
    results[id][2] = hidden;
    results[id][3] = ((unsigned long) &aligned_tls % 64 == 0) + aligned_tls;
    strcpy(labels[id], label);
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(void) {
    pthread_t threads[4];
    for (long i = 0; i < 4; i++) pthread_create(&threads[i], NULL, thread_main, (void *) i);
    for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);
    /* Printed after the joins, in thread order, so the output does not depend on scheduling. */
    for (int i = 0; i < 4; i++)
        printf("thread %d: counter=%ld total=%ld hidden=%ld aligned=%ld label=\"%s\"\n", i, results[i][0],
               results[i][1], results[i][2], results[i][3], labels[i]);
    printf("main: counter=%d total=%ld hidden=%d label=\"%s\" aligned=%d\n", counter, total, hidden, label,
           ((unsigned long) &aligned_tls % 64 == 0) + aligned_tls);
    work(9);
    printf("main after work: counter=%d total=%ld hidden=%d label=\"%s\"\n", counter, total, hidden, label);
    return counter % 256;
}
