// A C++ program that needs libstdc++ at run time (std::string, iostream):
// on Alpine that is the libstdc++ package, which builder.toml installs.
#include <iostream>
#include <string>

int main(int argc, char **argv) {
    std::string who = argc > 1 ? argv[1] : "world";
    std::cout << "hello, " << who << ", from C++ on Alpine\n";
    return 0;
}
