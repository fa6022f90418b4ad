// C++ thread_local objects with constructors and destructors: each thread constructs its own on
// first use, and its destructors run at thread exit (__cxa_thread_atexit), newest first; the main
// thread's run when main returns, before the static objects' destructors. Threads are joined one at
// a time, so the output does not depend on scheduling.
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

struct Tracker {
    std::string name;
    int uses = 0;
    explicit Tracker(const char *n) : name(n) { std::printf("construct %s\n", name.c_str()); }
    ~Tracker() { std::printf("destroy %s after %d uses\n", name.c_str(), uses); std::fflush(stdout); }
};

struct Global {
    ~Global() { std::printf("static destructor\n"); }
} global;

thread_local Tracker first("first");
thread_local Tracker second("second");
thread_local int plain = 3;
thread_local std::vector<int> history{1, 2};
thread_local std::map<std::string, int> seen;

int use(int n) {
    first.uses += n;
    if (n % 2 == 0) second.uses += 1;
    plain += n;
    history.push_back(n);
    seen[std::to_string(n % 3)] += n;
    return first.uses + plain + static_cast<int>(history.size()) + static_cast<int>(seen.size());
}

int main() {
    std::printf("main %d\n", use(1));
    for (int i = 0; i < 3; i++) {
        std::thread t([i] {
            int r = use(i + 10);
            r += use(i + 20);
            std::printf("thread %d -> %d\n", i, r);
        });
        t.join();
    }
    std::printf("main again %d (history %zu)\n", use(2), history.size());
    std::fflush(stdout);
    return 0;
}
