/* Walks its own stack with libgcc's unwinder, as Rust's std does for panics and backtraces:
 * needs _Unwind_* (libgcc_s, which gcc links by default) and the set's .eh_frame registered. */
#include <stdio.h>
#include <unwind.h>

static int frames;

static _Unwind_Reason_Code count(struct _Unwind_Context *context, void *limit) {
    if (_Unwind_GetIP(context) == 0) {
        return _URC_END_OF_STACK;
    }
    return ++frames >= *(int *) limit ? _URC_END_OF_STACK : _URC_NO_REASON;
}

__attribute__((noinline)) static int walk(int depth) {
    if (depth > 0) {
        int result = walk(depth - 1);
        __asm__ volatile("" ::: "memory"); /* not a tail call: every level keeps its frame */
        return result;
    }
    int limit = 6;
    frames = 0;
    _Unwind_Backtrace(count, &limit);
    return frames;
}

int main(void) {
    printf("frames walked: %d\n", walk(8));
    return 0;
}
