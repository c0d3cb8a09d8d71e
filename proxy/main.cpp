#include <cstdio>

#include "proxy/cli.hpp"

int main(int argc, char** argv) {
    // Log lines are flushed explicitly, in batches (AccessLog); a batch should fit one write.
    // glibc ignores the size unless it is given the buffer too (it would take 4 KiB).
    static char buffer[64 * 1024];
    std::setvbuf(stdout, buffer, _IOFBF, sizeof buffer);
    return certgate::proxy::run_cli(argc, argv);
}
