// The `policies` list: routing, identity, framing and CSRF rules per path prefix.
#pragma once

#include <vector>

#include "config/config.hpp"
#include "config/yaml_reader.hpp"

namespace certgate::config::detail {

// Replaces `policies` with the configured list when it is valid; reports every problem.
void read_policies(const Field& field, std::vector<Policy>& policies);

}  // namespace certgate::config::detail
