/* 8 threads run loaded functions that update shared counters under a mutex. */
#include <pthread.h>
#include <stdio.h>

#define THREADS 8
#define ITERATIONS 20000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
long total;
long per_thread[THREADS];
static int order_checksum;

struct job {
    int id;
    long result;
};

static long work_item(int id, int i) {
    return (long)(id + 1) * (i % 7 + 1);
}

static void *worker(void *arg) {
    struct job *job = arg;
    long local = 0;
    for (int i = 0; i < ITERATIONS; i++) {
        long v = work_item(job->id, i);
        local += v;
        pthread_mutex_lock(&lock);
        total += v;
        per_thread[job->id]++;
        order_checksum = (order_checksum + 1) % 1000003;
        pthread_mutex_unlock(&lock);
    }
    job->result = local;
    return &job->result;
}

int main(void) {
    pthread_t threads[THREADS];
    struct job jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i].id = i;
        jobs[i].result = 0;
        if (pthread_create(&threads[i], NULL, worker, &jobs[i]) != 0) {
            puts("pthread_create failed");
            return 1;
        }
    }
    long sum_results = 0;
    for (int i = 0; i < THREADS; i++) {
        void *ret;
        pthread_join(threads[i], &ret);
        sum_results += *(long *)ret;
    }
    for (int i = 0; i < THREADS; i++) {
        printf("thread %d: increments=%ld result=%ld\n", i, per_thread[i], jobs[i].result);
    }
    printf("total=%ld sum_results=%ld checksum=%d\n", total, sum_results, order_checksum);
    return total == sum_results ? 0 : 1;
}
