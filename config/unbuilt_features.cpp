#include "config/unbuilt_features.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace certgate::config::detail {
namespace {

std::optional<YAML::Node> value_of(const YAML::Node& mapping, std::string_view key) {
    if (!mapping.IsMap()) return std::nullopt;
    for (auto it = mapping.begin(); it != mapping.end(); ++it) {
        if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
    }
    return std::nullopt;
}

}  // namespace

void refuse_unbuilt_features(const YAML::Node& root, Diagnostics& diagnostics) {
    const Mark start{diagnostics.file(), 1, 1};
    const auto refuse = [&](const YAML::Node& value, const std::string& path) {
        diagnostics.report(diagnostics.locate(value.Mark(), start), path, "not supported yet");
    };
    for (const char* key : {"admin"}) {
        if (const auto value = value_of(root, key); value && !value->IsNull()) refuse(*value, key);
    }
}

}  // namespace certgate::config::detail
