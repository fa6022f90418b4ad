/* Host data reached with 32-bit PC-relative references under gcc's default -fPIE:
 * stderr, stdout, environ, optarg, optind (libc writes optarg/optind; we must see its copy). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
    int verbose = 0, c;
    const char *name = "nobody";
    long level = 0;
    while ((c = getopt(argc, argv, "vn:l:")) != -1) {
        switch (c) {
        case 'v': verbose++; break;
        case 'n': name = optarg; break;
        case 'l': level = strtol(optarg, NULL, 10); break;
        default: fprintf(stderr, "bad option\n"); return 2;
        }
    }
    printf("verbose=%d name=%s level=%ld optind=%d\n", verbose, name, level, optind);
    for (int i = optind; i < argc; i++) printf("operand: %s\n", argv[i]);
    int found = 0;
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "JDYLD_TEST_MARKER=", 18) == 0) { found = 1; printf("marker: %s\n", *e + 18); }
    }
    printf("environ has marker: %d\n", found);
    fprintf(stderr, "this goes to stderr\n");
    fputs("via stdout stream\n", stdout);
    fflush(stdout);
    return verbose + (int) level;
}
