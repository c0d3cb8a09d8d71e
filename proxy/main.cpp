#include <cstdio>

#include "proxy/cli.hpp"

int main(int argc, char** argv) {
    // Log lines are flushed explicitly, in batches (AccessLog); a batch should fit one write.
    std::setvbuf(stdout, nullptr, _IOFBF, 64 * 1024);
    return certgate::proxy::run_cli(argc, argv);
}
