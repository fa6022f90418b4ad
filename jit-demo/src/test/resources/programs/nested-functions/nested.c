/* GNU C nested functions whose address is taken: each call goes through a trampoline that the
 * enclosing function writes on its stack, so the object asks for an executable stack. One
 * trampoline is passed to another thread, which runs it from the main thread's stack, and that
 * thread takes the address of a nested function of its own, on its own stack. */
#include <pthread.h>
#include <stdio.h>

static int apply(int (*f)(int), int x) {
    return f(x);
}

struct job {
    int (*f)(int);
    int x;
    int result;
};

static void *run_job(void *argument) {
    struct job *job = argument;
    int first = job->f(job->x);
    int twice(int v) { return v * 2 + first; }
    job->result = apply(twice, 5);
    return NULL;
}

static int sum_with(int (*f)(int), int n) {
    int total = 0;
    for (int i = 0; i < n; i++) {
        total += f(i);
    }
    return total;
}

int main(void) {
    int k = 3;
    int calls = 0;
    int add(int x) { calls++; return x + k; }
    printf("apply(add, 4) = %d\n", apply(add, 4));
    k = 10;
    printf("sum_with(add, 5) = %d after %d calls\n", sum_with(add, 5), calls);
    struct job job = {add, 32, 0};
    pthread_t thread;
    if (pthread_create(&thread, NULL, run_job, &job) != 0 || pthread_join(thread, NULL) != 0) {
        return 2;
    }
    printf("thread: %d, calls %d\n", job.result, calls);
    return apply(add, 4) == 14 ? 0 : 1;
}
