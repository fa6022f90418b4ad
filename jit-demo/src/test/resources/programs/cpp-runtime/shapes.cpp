#include <cmath>
#include <cstdio>
#include <stdexcept>
#include "shapes.h"

namespace {
struct Circle : Shape {
    double r;
    explicit Circle(double radius) : r(radius) {}
    double area() const override { return 3.0 * r * r; }
    std::string name() const override { return "circle(" + std::to_string(static_cast<int>(r)) + ")"; }
};
struct Rectangle : Shape {
    double w, h;
    Rectangle(double width, double height) : w(width), h(height) {}
    double area() const override { return w * h; }
    std::string name() const override { return "rectangle"; }
};
struct Announcer {
    Announcer() { std::printf("construct global in shapes.cpp (twice=%d)\n", twice(5)); }
    ~Announcer() { std::printf("destruct global in shapes.cpp\n"); }
} announcer;
}

std::vector<std::unique_ptr<Shape>> make_shapes() {
    std::vector<std::unique_ptr<Shape>> shapes;
    shapes.push_back(std::make_unique<Circle>(2));
    shapes.push_back(std::make_unique<Rectangle>(3, 4));
    shapes.push_back(std::make_unique<Circle>(1));
    return shapes;
}

int parse_or(const std::string &text, int fallback) {
    try {
        return std::stoi(text);  // throws std::invalid_argument from inside libstdc++
    } catch (const std::invalid_argument &e) {
        std::printf("invalid_argument caught: %s\n", e.what());
        return fallback;
    }
}

int next_id() {
    static int counter = [] { std::printf("function-local static initialised\n"); return 100; }();
    return counter++;
}
