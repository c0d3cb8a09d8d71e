// `certgate dev-pki --out DIR`: a throwaway development PKI, like mkcert. A CA, a server
// certificate for localhost / 127.0.0.1 / ::1 and a client certificate (clientAuth), ECDSA
// P-256, written with the names scripts and examples expect. Never for production.
#pragma once

#include <string>
#include <vector>

namespace certgate::proxy {

struct DevPkiOptions {
    std::string out_dir;
    std::vector<std::string> hosts;  // extra server SANs (DNS names or IP addresses)
    int days = 90;
    bool force = false;  // overwrite existing files
};

// Files written into out_dir, in order.
const std::vector<std::string>& dev_pki_files();

// Writes the PKI; throws std::runtime_error (with the path) on any failure, and refuses
// to touch anything when a file already exists and !force.
void write_dev_pki(const DevPkiOptions& options);

// The `dev-pki` command line: argv[0] is "dev-pki". Returns the exit code.
int run_dev_pki(int argc, char** argv);

}  // namespace certgate::proxy
