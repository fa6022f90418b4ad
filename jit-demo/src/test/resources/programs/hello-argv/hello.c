/* Prints a greeting, argc and argv[1..]; argv[0] differs between a native run and jdyld. */
#include <stdio.h>

static const char greeting[] = "hello from a loaded object";

int main(int argc, char **argv) {
    printf("%s\n", greeting);
    printf("argc=%d\n", argc);
    for (int i = 1; i < argc; i++) {
        printf("argv[%d]=%s\n", i, argv[i]);
    }
    puts("bye");
    return 3;
}
