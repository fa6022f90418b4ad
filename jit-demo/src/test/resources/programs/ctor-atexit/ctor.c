#include <stdio.h>
#include <stdlib.h>
static void h1(void) { printf("atexit handler 1\n"); }
static void h2(void) { printf("atexit handler 2\n"); }
__attribute__((constructor)) static void c0(void) { printf("constructor default\n"); }
__attribute__((constructor(200))) static void c200(void) { printf("constructor 200\n"); }
__attribute__((constructor(101))) static void c101(void) { printf("constructor 101\n"); }
__attribute__((destructor)) static void d0(void) { printf("destructor default\n"); }
__attribute__((destructor(101))) static void d101(void) { printf("destructor 101\n"); }
__attribute__((destructor(200))) static void d200(void) { printf("destructor 200\n"); }
int main(void) { atexit(h1); atexit(h2); printf("main\n"); return 42; }
