// Path normalization and routing (SPEC "Routing").
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "policies/refusal.hpp"

namespace certgate::policies {

struct NormalizedTarget {
    std::string path;   // normalized path, always starts with '/'
    std::string query;  // original query string including its leading '?', or empty
};

struct PathResult {
    std::optional<NormalizedTarget> target;  // set on success
    std::optional<Refusal> refusal;          // 400 on failure, rule "path.*"
};

// Decodes percent-encoded unreserved characters, resolves "." and ".." segments and merges
// repeated '/' (config::normalize_path, shared with the configured prefixes). Refuses (400)
// an encoded '/', '\' or NUL, a raw '\', a bad percent escape, a path that climbs above the
// root, or a target that is not RFC 3986 origin-form: path characters are pchar and '/', the
// query adds '?'; anything else (space, '#', '<', '[', '{', '|', bytes >= 0x80, ...) is refused.
PathResult normalize_target(std::string_view target);

// Index of the first policy with a matching prefix (case-insensitive; a prefix ending in
// '/' matches that folder, otherwise the exact path and the folder below it), or nullopt.
std::optional<std::size_t> route(const std::vector<config::Policy>& policies,
                                 std::string_view normalized_path);

// True when `path` matches prefix `prefix` by the rule above.
bool path_matches(std::string_view prefix, std::string_view path);

}  // namespace certgate::policies
