int shared_counter __attribute__((common));
double shared_table[4] __attribute__((common));
int hook(void) { return 2; }
void bump_from_b(int n) { shared_counter += n; shared_table[0] = n; }
