#include <cstdio>
#include <iostream>
#include "shapes.h"

struct Announcer {
    const char *name;
    explicit Announcer(const char *n) : name(n) { std::printf("construct %s\n", name); }
    ~Announcer() { std::printf("destruct %s\n", name); }
};

static Announcer global_announcer("global in main.cpp");

int main(int argc, char **argv) {
    auto shapes = make_shapes();
    double total = 0;
    for (const auto &shape : shapes) {
        std::cout << shape->name() << " area " << shape->area() << "\n";
        total += shape->area();
    }
    std::cout << "total " << total << " twice " << twice(21) << " " << twice(std::string("ab")) << "\n";
    auto counts = histogram(std::vector<std::string>{"b", "a", "b", "c", "b"});
    for (const auto &[word, count] : counts) std::cout << word << "=" << count << " ";
    std::cout << "\n";
    std::cout << "parse 42: " << parse_or("42", -1) << ", parse x: " << parse_or("x", -1) << "\n";
    try {
        throw std::runtime_error("thrown in main");
    } catch (const std::exception &e) {
        std::cout << "caught " << e.what() << "\n";
    }
    std::cout << "ids " << next_id() << " " << next_id() << " " << next_id() << std::endl;
    return static_cast<int>(total) % 100;
}
