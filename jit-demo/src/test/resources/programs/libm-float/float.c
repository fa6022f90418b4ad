/* Floating point through libm; printed with %.10g so native and loaded runs agree exactly. */
#include <math.h>
#include <stdio.h>

static const double inputs[] = {0.0, 0.5, 1.0, 1.5, 2.25, 3.14159265358979, -0.75, 10.0};
double scale = 1.25;
float fscale = 0.5f;

static double series(int n) {
    double s = 0.0;
    for (int k = 1; k <= n; k++) {
        s += pow(-1.0, k + 1) / k;
    }
    return s;
}

static double integrate_sin(double a, double b, int steps) {
    double h = (b - a) / steps, s = 0.0;
    for (int i = 0; i < steps; i++) {
        double x = a + (i + 0.5) * h;
        s += sin(x) * h;
    }
    return s;
}

int main(void) {
    int n = (int)(sizeof inputs / sizeof inputs[0]);
    for (int i = 0; i < n; i++) {
        double x = inputs[i] * scale;
        printf("x=%.10g sin=%.10g exp=%.10g sqrt|x|=%.10g pow(x,3)=%.10g\n", x, sin(x), exp(x),
               sqrt(fabs(x)), pow(x, 3.0));
    }
    printf("ln2~%.10g\n", series(1000));
    printf("int_sin=%.10g\n", integrate_sin(0.0, 3.14159265358979, 1000));
    float f = 1.0f;
    for (int i = 0; i < 20; i++) {
        f = f * fscale + 0.25f;
    }
    printf("f=%.10g floor=%.10g ceil=%.10g\n", (double)f, floor(2.7 * scale), ceil(-2.7 * scale));
    long double ld = 1.0L / 3.0L;
    printf("ld=%.10Lg\n", ld);
    double big = pow(2.0, 60.0) + sqrt(2.0);
    printf("big=%.10g hypot=%.10g atan2=%.10g\n", big, hypot(3.0, 4.0), atan2(1.0, -1.0));
    return (int)(sqrt(2.0) * 10.0);
}
