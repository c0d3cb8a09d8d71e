#include "config/config.hpp"

#include <algorithm>

namespace certgate::config {
namespace {

std::string join_lines(const std::vector<std::string>& lines) {
    std::string joined;
    for (const std::string& line : lines) {
        if (!joined.empty()) joined += '\n';
        joined += line;
    }
    return joined;
}

}  // namespace

bool Config::every_policy_requires_certificate() const {
    return std::all_of(policies.begin(), policies.end(), [](const Policy& policy) {
        return policy.client_certificate == CertMode::required;
    });
}

ConfigError::ConfigError(std::vector<std::string> messages)
    : std::runtime_error(join_lines(messages)), messages_(std::move(messages)) {}

std::string format_error(const Mark& mark, const std::string& key, const std::string& message) {
    return mark.file + ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column) + ": " +
           key + ": " + message;
}

}  // namespace certgate::config
