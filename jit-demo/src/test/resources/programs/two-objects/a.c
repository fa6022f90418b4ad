/* Object a: owns some globals and calls into b (and b calls back). */
#include <stdio.h>
#include <string.h>
#include "shared.h"

int a_counter = 7;
int a_values[16] = {1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597};
struct point a_points[4] = {
    {1, 2, "alpha"}, {-3, 4, "beta"}, {5, -6, "gamma"}, {70, 80, "delta"},
};
const char *const a_names[] = {"zero", "one", "two", "three", "four"};
const int a_name_count = sizeof a_names / sizeof a_names[0];

static int a_hidden_state;              /* .bss, local to a */
static const short a_weights[8] = {3, 1, 4, 1, 5, 9, 2, 6};

static int a_weighted(int i) {
    return a_weights[i & 7] * (i + 1);
}

int a_scale(int v) {
    a_hidden_state += v;
    return v * 3 + a_weighted(v);
}

int a_sum_b(void) {
    int s = 0;
    for (int i = 0; i < 32; i++) {
        s += b_buffer[i] * (i % 3 == 0 ? -1 : 1);
    }
    return s;
}

void a_bump(int by) {
    a_counter += by;
}

int main(void) {
    b_fill();
    printf("a_sum_b=%d\n", a_sum_b());
    printf("combine=%d\n", b_combine(6, 7));
    printf("walk=%d\n", b_walk_points());
    printf("acc=%ld\n", b_accumulate(a_values, 16));
    printf("callback=%d\n", b_call_back(11));
    printf("a_counter=%d b_total=%ld\n", a_counter, b_total);
    printf("origin=(%d,%d,%s)\n", b_origin.x, b_origin.y, b_origin.name);

    /* Write b's data from a. */
    b_origin.x = 42;
    b_origin.name = a_names[3];
    b_words[4] = "patched-by-a";
    for (int i = 0; i < 5; i++) {
        printf("word[%d]=%s len=%zu\n", i, b_words[i], strlen(b_words[i]));
    }
    printf("origin=(%d,%d,%s)\n", b_origin.x, b_origin.y, b_origin.name);

    unsigned crc = 0;
    for (int i = 0; i < 16; i++) {
        crc = (crc << 1) ^ b_crc_table[i] ^ (crc >> 7);
    }
    printf("crc=%u hidden=%d\n", crc, a_hidden_state);
    return (int)(b_total % 200) + 1;
}
