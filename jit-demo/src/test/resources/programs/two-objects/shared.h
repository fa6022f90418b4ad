#ifndef SHARED_H
#define SHARED_H

struct point {
    int x;
    int y;
    const char *name;
};

/* Defined in a.c */
extern int a_counter;
extern int a_values[16];
extern struct point a_points[4];
extern const char *const a_names[];
extern const int a_name_count;
int a_scale(int v);
int a_sum_b(void);
void a_bump(int by);

/* Defined in b.c */
extern long b_total;
extern int b_buffer[32];
extern struct point b_origin;
extern const char *b_words[5];
extern const unsigned char b_crc_table[16];
int b_combine(int x, int y);
int b_walk_points(void);
long b_accumulate(const int *vals, int n);
void b_fill(void);
int b_call_back(int v);

#endif
