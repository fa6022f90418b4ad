#include <stdio.h>
#include <gmp.h>
#include <string.h>
int main(void) {
    mpz_t f;
    mpz_init(f);
    mpz_fac_ui(f, 300);
    char *digits = mpz_get_str(NULL, 10, f);
    printf("300! has %zu digits: %.30s...%s\n", strlen(digits), digits, digits + strlen(digits) - 20);
    gmp_printf("300! mod 1000000007 = %Zd\n", (mpz_mod_ui(f, f, 1000000007), f));
    return 0;
}
