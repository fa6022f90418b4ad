/* Object b: reads and writes a's globals and calls into a. */
#include <stdio.h>
#include "shared.h"

long b_total;
int b_buffer[32];
struct point b_origin = {-1, -2, "origin"};
const char *b_words[5] = {"apple", "banana", "cherry", "date", "elderberry"};
const unsigned char b_crc_table[16] = {
    0x00, 0x1d, 0x3a, 0x27, 0x74, 0x69, 0x4e, 0x53,
    0xe8, 0xf5, 0xd2, 0xcf, 0x9c, 0x81, 0xa6, 0xbb,
};

static long b_local_total = 1000;

static int b_manhattan(const struct point *p) {
    return (p->x < 0 ? -p->x : p->x) + (p->y < 0 ? -p->y : p->y);
}

void b_fill(void) {
    for (int i = 0; i < 32; i++) {
        b_buffer[i] = a_values[i % 16] + i;
    }
}

int b_combine(int x, int y) {
    a_bump(x);
    return a_scale(x) * 10 + a_scale(y);
}

int b_walk_points(void) {
    int s = 0;
    for (int i = 0; i < 4; i++) {
        s += b_manhattan(&a_points[i]);
        printf("  point %s -> %d (name %s)\n", a_points[i].name, b_manhattan(&a_points[i]),
               a_names[i % a_name_count]);
        a_points[i].x += i;
    }
    return s + a_points[3].x;
}

long b_accumulate(const int *vals, int n) {
    for (int i = 0; i < n; i++) {
        b_total += vals[i];
        b_local_total -= vals[i] / 2;
    }
    a_values[0] = 100;
    return b_total + b_local_total;
}

int b_call_back(int v) {
    int (*fp)(int) = a_scale;
    return fp(v) + a_values[0] + a_counter;
}
