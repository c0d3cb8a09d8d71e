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
    const auto policies = value_of(root, "policies");
    if (!policies || !policies->IsSequence()) return;
    for (std::size_t i = 0; i < policies->size(); ++i) {
        const YAML::Node policy = (*policies)[i];
        const std::string path = "policies[" + std::to_string(i) + "]";
        if (const auto allow = value_of(policy, "allow")) {
            for (const char* list : {"subjects", "san_dns", "san_uri", "fingerprints"}) {
                const auto value = value_of(*allow, list);
                const bool empty =
                    !value || value->IsNull() || (value->IsSequence() && value->size() == 0);
                if (!empty) refuse(*value, path + ".allow." + list);
            }
        }
        for (const char* key : {"csrf", "cookies"}) {
            if (const auto value = value_of(policy, key); value && !value->IsNull()) {
                refuse(*value, path + "." + key);
            }
        }
    }
}

}  // namespace certgate::config::detail
