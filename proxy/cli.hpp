// The command line: serve, check, version (SPEC "Command line"). Exit codes: 0 success,
// 1 configuration or start-up error, 2 usage error.
#pragma once

namespace certgate::proxy {

int run_cli(int argc, char** argv);

}  // namespace certgate::proxy
