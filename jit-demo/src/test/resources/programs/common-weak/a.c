/* Tentative (common) definitions merged across objects, a weak function overridden by a strong
 * one, and a weak undefined function that stays null. */
#include <stdio.h>

int shared_counter __attribute__((common));
double shared_table[4] __attribute__((common));
__attribute__((weak)) int hook(void) { return 1; }
__attribute__((weak)) const char *weak_only(void) { return "weak definition kept"; }
extern void never_defined(void) __attribute__((weak));
void bump_from_b(int n);

int main(void) {
    shared_counter += 10;
    bump_from_b(5);
    shared_table[3] = 2.5;
    printf("shared_counter=%d table[3]=%.1f sizeof table=%zu\n", shared_counter, shared_table[3], sizeof shared_table);
    printf("hook()=%d weak_only()=%s\n", hook(), weak_only());
    printf("never_defined is %s\n", never_defined ? "defined" : "null");
    if (never_defined) never_defined();
    return hook() + shared_counter;
}
