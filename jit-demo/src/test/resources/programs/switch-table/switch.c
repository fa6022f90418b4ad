/* A dense switch (gcc emits a jump table at -O2 and usually -O0) and tables of function pointers. */
#include <stdio.h>

static int classify(int v) {
    switch (v) {
    case 0: return 17;
    case 1: return 4;
    case 2: return 91;
    case 3: return -8;
    case 4: return 33;
    case 5: return 250;
    case 6: return 6;
    case 7: return 1000;
    case 8: return -77;
    case 9: return 12;
    case 10: return 5;
    case 11: return 808;
    case 12: return 64;
    case 13: return -1;
    case 14: return 14;
    case 15: return 2024;
    case 16: return 3;
    case 17: return 71;
    case 18: return 99;
    case 19: return -500;
    case 20: return 42;
    case 21: return 7;
    case 22: return 123;
    case 23: return 321;
    case 24: return 11;
    case 25: return 0;
    default: return -99999;
    }
}

/* A switch whose cases do real work (keeps the table from becoming a value lookup). */
static const char *describe(int v, int *acc) {
    switch (v) {
    case 0: *acc += 1; return "zero";
    case 1: *acc *= 3; return "one";
    case 2: *acc -= 7; return "two";
    case 3: *acc ^= 0x55; return "three";
    case 4: *acc <<= 1; return "four";
    case 5: *acc >>= 1; return "five";
    case 6: *acc += *acc / 3; return "six";
    case 7: *acc = -*acc; return "seven";
    case 8: *acc |= 0x100; return "eight";
    case 9: *acc &= 0xfff; return "nine";
    case 10: *acc += 10; return "ten";
    case 11: *acc -= 11; return "eleven";
    case 12: *acc *= 12; return "twelve";
    case 13: *acc %= 13; return "thirteen";
    case 14: *acc += 14; return "fourteen";
    case 15: *acc ^= 15; return "fifteen";
    case 16: *acc += 16 * 16; return "sixteen";
    case 17: *acc -= 17 * 2; return "seventeen";
    case 18: *acc += 18 / 2; return "eighteen";
    case 19: *acc = *acc * 19 % 1000; return "nineteen";
    case 20: *acc += 2000; return "twenty";
    case 21: *acc -= 21; return "twenty-one";
    case 22: *acc ^= 22; return "twenty-two";
    default: *acc = 0; return "other";
    }
}

static int op_add(int a, int b) { return a + b; }
static int op_sub(int a, int b) { return a - b; }
static int op_mul(int a, int b) { return a * b; }
int op_max(int a, int b) { return a > b ? a : b; }
int op_min(int a, int b) { return a < b ? a : b; }
static int op_xor(int a, int b) { return a ^ b; }

typedef int (*binop)(int, int);

static const binop const_ops[] = {op_add, op_sub, op_mul, op_max, op_min, op_xor};
binop mutable_ops[] = {op_mul, op_add, op_xor, op_sub, op_min, op_max};
static const char *const op_names[] = {"add", "sub", "mul", "max", "min", "xor"};

struct vtable {
    const char *name;
    int (*init)(void);
    int (*step)(int state, int input);
    binop combine;
};

static int init_one(void) { return 1; }
static int init_ten(void) { return 10; }
static int step_double(int s, int in) { return s * 2 + in; }
static int step_mix(int s, int in) { return (s ^ in) + 3; }

static const struct vtable vtables[] = {
    {"doubler", init_one, step_double, op_add},
    {"mixer", init_ten, step_mix, op_xor},
    {"maxer", init_ten, step_double, op_max},
};

struct vtable current = {"current", init_one, step_mix, op_sub};

int main(void) {
    long sum = 0;
    for (int i = -2; i < 30; i++) {
        int c = classify(i);
        sum += c;
        printf("classify(%d)=%d\n", i, c);
    }
    printf("sum=%ld\n", sum);

    int acc = 5;
    for (int i = 0; i < 26; i++) {
        const char *d = describe((i * 5) % 25, &acc);
        printf("describe %s acc=%d\n", d, acc);
    }

    for (int i = 0; i < 6; i++) {
        printf("%s(%d,%d)=%d mutable=%d\n", op_names[i], 17, 5, const_ops[i](17, 5),
               mutable_ops[i](17, 5));
    }
    mutable_ops[2] = op_add;
    mutable_ops[5] = const_ops[2];
    int m = 0;
    for (int i = 0; i < 6; i++) {
        m = mutable_ops[i](m, i + 1);
    }
    printf("m=%d\n", m);

    for (unsigned i = 0; i < sizeof vtables / sizeof vtables[0]; i++) {
        const struct vtable *vt = &vtables[i];
        int s = vt->init();
        for (int in = 0; in < 5; in++) {
            s = vt->step(s, in);
        }
        printf("%s -> %d combined=%d\n", vt->name, s, vt->combine(s, 7));
    }
    current.step = step_double;
    current.combine = op_min;
    int s = current.init();
    s = current.step(s, 9);
    printf("%s -> %d combined=%d\n", current.name, s, current.combine(s, 100));
    return (int)(sum & 0x7f);
}
