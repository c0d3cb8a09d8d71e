#include "proxy/cli.hpp"

int main(int argc, char** argv) { return certgate::proxy::run_cli(argc, argv); }
