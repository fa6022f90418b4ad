#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

struct Shape {
    virtual ~Shape() = default;
    virtual double area() const = 0;
    virtual std::string name() const = 0;
};

template <typename T> T twice(T value) { return value + value; }  // instantiated in both objects

template <typename K> std::map<K, int> histogram(const std::vector<K> &items) {
    std::map<K, int> counts;
    for (const K &item : items) counts[item]++;
    return counts;
}

std::vector<std::unique_ptr<Shape>> make_shapes();
int parse_or(const std::string &text, int fallback);
int next_id();
