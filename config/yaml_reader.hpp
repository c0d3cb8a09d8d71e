// Typed, located reading of a yaml-cpp tree: every wrong type, unknown key or duplicate key
// becomes a "file:line:col: key.path: message" error, and reading goes on so that all of
// them are reported at once.
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "config/value_syntax.hpp"

namespace certgate::config::detail {

class Diagnostics {
public:
    explicit Diagnostics(std::string file) : file_(std::move(file)) {}

    const std::string& file() const { return file_; }
    // yaml-cpp marks are 0-based; a node built without a position gets `fallback`.
    Mark locate(const YAML::Mark& mark, const Mark& fallback) const;
    void report(const Mark& mark, const std::string& key, const std::string& message);
    bool empty() const { return entries_.empty(); }
    // Formatted errors in file order.
    std::vector<std::string> messages() const;

private:
    struct Entry {
        Mark mark;
        std::string text;
    };
    std::string file_;
    std::vector<Entry> entries_;
};

// One YAML value together with its key path and position.
class Field {
public:
    Field(YAML::Node node, std::string path, Mark mark, Diagnostics& diagnostics)
        : node_(std::move(node)),
          path_(std::move(path)),
          mark_(std::move(mark)),
          diagnostics_(&diagnostics) {}

    const YAML::Node& node() const { return node_; }
    const std::string& path() const { return path_; }
    const Mark& mark() const { return mark_; }
    Diagnostics& diagnostics() const { return *diagnostics_; }
    bool is_null() const { return node_.IsNull(); }

    void error(const std::string& message) const;

    // The scalar's text; anything else is reported as a wrong type.
    std::optional<std::string> text() const;
    // true/false only (YAML 1.2): "yes", "on", "1" are refused.
    std::optional<bool> boolean() const;
    std::optional<long long> integer(long long min, long long max) const;
    std::optional<Duration> duration(bool allow_zero) const;
    std::optional<std::uint64_t> size() const;
    // The elements of a list (null reads as empty), each with its "path[i]".
    std::optional<std::vector<Field>> items() const;

    template <typename T>
    std::optional<T> parse(Parsed<T> (*rule)(std::string_view)) const {
        const auto raw = text();
        if (!raw) return std::nullopt;
        Parsed<T> parsed = rule(*raw);
        if (!parsed.ok()) {
            error(parsed.error());
            return std::nullopt;
        }
        return parsed.value();
    }

    // A list of scalars each checked by `rule`; nullopt when anything was wrong.
    std::optional<std::vector<std::string>> strings(
        Parsed<std::string> (*rule)(std::string_view)) const;

    // One of a fixed set of words, e.g. required | optional | none.
    template <typename T>
    std::optional<T> choice(const std::vector<std::pair<std::string_view, T>>& options,
                            bool case_insensitive) const {
        const auto raw = text();
        if (!raw) return std::nullopt;
        std::string listed;
        for (const auto& [word, value] : options) {
            if (*raw == word || (case_insensitive && iequals(*raw, word))) return value;
            listed += (listed.empty() ? "" : ", ") + std::string(word);
        }
        error("expected one of " + listed + ", found " + quote(*raw));
        return std::nullopt;
    }

private:
    YAML::Node node_;
    std::string path_;
    Mark mark_;
    Diagnostics* diagnostics_;
};

// A YAML mapping whose keys were checked once: duplicates and (unless free-form) unknown
// keys are reported when it is built. A null or absent mapping reads as empty.
class Mapping {
public:
    Mapping(const Field& field, std::vector<std::string_view> known_keys);
    // Any key is allowed (e.g. response_headers); duplicates are still errors.
    static Mapping free_form(const Field& field);

    const Field& self() const { return self_; }
    std::optional<Field> get(std::string_view key) const;
    // The value, or a null Field positioned at this mapping when the key is absent.
    Field get_or_null(std::string_view key) const;
    // Reports "required key is missing" at this mapping when `key` is absent (at the key
    // when it is null); `why` explains a conditional requirement.
    void require(std::string_view key, const std::string& why = "") const;
    const std::vector<std::pair<Field, Field>>& entries() const { return entries_; }

private:
    Mapping(const Field& field, std::optional<std::vector<std::string_view>> known_keys);
    std::string child_path(std::string_view key) const;

    Field self_;
    std::vector<std::pair<Field, Field>> entries_;
};

template <typename T>
void assign(T& target, std::optional<T> value) {
    if (value) target = std::move(*value);
}

}  // namespace certgate::config::detail
