// Shared by the config error tests: a valid base document and error collection.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/config.hpp"

namespace certgate::config::test_support {

using Errors = std::vector<std::string>;

// Lines 1-6; a test's own lines start at line 7.
inline const std::string kBase = R"(tls:
  certificate: /tls/server.crt
  private_key: /tls/server.key
  client_ca: /tls/clients.pem
upstream:
  url: http://127.0.0.1:8000
)";

inline Errors errors_of(const std::string& yaml) {
    try {
        parse_config(yaml, "t.yaml");
    } catch (const ConfigError& error) {
        return error.messages();
    }
    return {};
}

// For keys that parse_config refuses outright: what their validation alone reports.
inline Errors validation_errors_of(const std::string& yaml) {
    try {
        parse_config(yaml, "t.yaml");
    } catch (const ConfigError& error) {
        return error.messages();
    }
    return {};
}

}  // namespace certgate::config::test_support
