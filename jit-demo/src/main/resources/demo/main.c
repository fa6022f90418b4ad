/* jdyld demo: two objects, host libc and libm, a jump table, function pointers. */
#include <math.h>
#include <stdio.h>

extern const char *greeting(int hour);
extern int counter;

static double area(double r) { return M_PI * pow(r, 2); }
static double circumference(double r) { return 2 * M_PI * r; }
static double (*const measures[])(double) = {area, circumference};

int main(int argc, char **argv) {
    printf("%s from code loaded by jdyld (argc=%d)\n", greeting(9), argc);
    for (int i = 1; i < argc; i++) printf("  argv[%d] = %s\n", i, argv[i]);
    for (int i = 0; i < 2; i++) printf("  measure %d of a circle of radius 3: %.4f\n", i, measures[i](3.0));
    counter += 41;
    fprintf(stderr, "  counter = %d (written to stderr through a PC-relative host reference)\n", counter);
    return 0;
}
