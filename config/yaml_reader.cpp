#include "config/yaml_reader.hpp"

#include <algorithm>
#include <charconv>

namespace certgate::config::detail {
namespace {

std::string describe(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Map:
            return "a mapping";
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Scalar:
            return quote(node.Scalar());
        default:
            return "null";
    }
}

std::optional<std::string> scalar_text(const Field& field, const std::string& expected) {
    if (field.node().IsScalar()) return field.node().Scalar();
    field.error("expected " + expected + ", found " + describe(field.node()));
    return std::nullopt;
}

}  // namespace

Mark Diagnostics::locate(const YAML::Mark& mark, const Mark& fallback) const {
    if (mark.is_null()) return fallback;
    return Mark{file_, mark.line + 1, mark.column + 1};
}

void Diagnostics::report(const Mark& mark, const std::string& key, const std::string& message) {
    entries_.push_back(Entry{mark, format_error(mark, key, message)});
}

std::vector<std::string> Diagnostics::messages() const {
    std::vector<Entry> sorted = entries_;
    std::stable_sort(sorted.begin(), sorted.end(), [](const Entry& a, const Entry& b) {
        return std::pair(a.mark.line, a.mark.column) < std::pair(b.mark.line, b.mark.column);
    });
    std::vector<std::string> out;
    for (const Entry& entry : sorted) {
        // A node reached twice through a YAML alias would otherwise repeat its error.
        if (std::find(out.begin(), out.end(), entry.text) == out.end()) out.push_back(entry.text);
    }
    return out;
}

void Field::error(const std::string& message) const { diagnostics_->report(mark_, path_, message); }

std::optional<std::string> Field::text() const { return scalar_text(*this, "a string"); }

std::optional<bool> Field::boolean() const {
    const auto raw = scalar_text(*this, "true or false");
    if (!raw) return std::nullopt;
    if (*raw == "true" || *raw == "True" || *raw == "TRUE") return true;
    if (*raw == "false" || *raw == "False" || *raw == "FALSE") return false;
    error("expected true or false, found " + quote(*raw));
    return std::nullopt;
}

std::optional<long long> Field::integer(long long min, long long max) const {
    const std::string expected =
        "an integer from " + std::to_string(min) + " to " + std::to_string(max);
    const auto raw = scalar_text(*this, expected);
    if (!raw) return std::nullopt;
    long long value = 0;
    const char* end = raw->data() + raw->size();
    const auto [stop, status] = std::from_chars(raw->data(), end, value);
    if (raw->empty() || status != std::errc{} || stop != end || value < min || value > max) {
        error("expected " + expected + ", found " + quote(*raw));
        return std::nullopt;
    }
    return value;
}

std::optional<Duration> Field::duration(bool allow_zero) const {
    const auto raw = scalar_text(*this, "a duration such as \"10s\"");
    if (!raw) return std::nullopt;
    const Parsed<Duration> parsed = parse_duration(*raw);
    if (!parsed.ok()) {
        error(parsed.error());
        return std::nullopt;
    }
    if (!allow_zero && parsed.value() == Duration::zero()) {
        error("must be greater than 0, found " + quote(*raw));
        return std::nullopt;
    }
    return parsed.value();
}

std::optional<std::uint64_t> Field::size() const {
    const auto raw = scalar_text(*this, "a size such as \"12KiB\"");
    if (!raw) return std::nullopt;
    const Parsed<std::uint64_t> parsed = parse_size(*raw);
    if (!parsed.ok()) {
        error(parsed.error());
        return std::nullopt;
    }
    return parsed.value();
}

std::optional<std::vector<Field>> Field::items() const {
    if (node_.IsNull()) return std::vector<Field>{};
    if (!node_.IsSequence()) {
        error("expected a list, found " + describe(node_));
        return std::nullopt;
    }
    std::vector<Field> items;
    for (std::size_t i = 0; i < node_.size(); ++i) {
        const YAML::Node item = node_[i];
        items.emplace_back(item, path_ + "[" + std::to_string(i) + "]",
                           diagnostics_->locate(item.Mark(), mark_), *diagnostics_);
    }
    return items;
}

std::optional<std::vector<std::string>> Field::strings(
    Parsed<std::string> (*rule)(std::string_view)) const {
    const auto elements = items();
    if (!elements) return std::nullopt;
    std::vector<std::string> values;
    bool all_valid = true;
    for (const Field& element : *elements) {
        auto value = element.parse(rule);
        all_valid = all_valid && value.has_value();
        if (value) values.push_back(std::move(*value));
    }
    if (!all_valid) return std::nullopt;
    return values;
}

Mapping::Mapping(const Field& field, std::vector<std::string_view> known_keys)
    : Mapping(field, std::optional(std::move(known_keys))) {}

Mapping Mapping::free_form(const Field& field) { return Mapping(field, std::nullopt); }

Mapping::Mapping(const Field& field, std::optional<std::vector<std::string_view>> known_keys)
    : self_(field) {
    const YAML::Node& node = field.node();
    if (node.IsNull()) return;
    if (!node.IsMap()) {
        field.error("expected a mapping, found " + describe(node));
        return;
    }
    Diagnostics& diagnostics = field.diagnostics();
    std::vector<std::pair<std::string, int>> seen;  // key, line of its first occurrence
    for (auto it = node.begin(); it != node.end(); ++it) {
        const YAML::Node key = it->first;
        const YAML::Node value = it->second;
        const Mark key_mark = diagnostics.locate(key.Mark(), field.mark());
        if (!key.IsScalar()) {
            diagnostics.report(key_mark, field.path(),
                               "expected a key name, found " + describe(key));
            continue;
        }
        const std::string name = key.Scalar();
        const std::string path = child_path(name);
        if (known_keys &&
            std::find(known_keys->begin(), known_keys->end(), name) == known_keys->end()) {
            std::string message = "unknown key " + quote(name);
            if (const auto hint = closest_match(name, *known_keys)) {
                message += " (did you mean " + quote(*hint) + "?)";
            }
            diagnostics.report(key_mark, path, message);
            continue;
        }
        const auto first = std::find_if(seen.begin(), seen.end(),
                                        [&](const auto& entry) { return entry.first == name; });
        if (first != seen.end()) {
            // yaml-cpp keeps one of the two silently; which one is not something to rely on.
            diagnostics.report(key_mark, path,
                               "duplicate key " + quote(name) + " (first at line " +
                                   std::to_string(first->second) + ")");
            continue;
        }
        seen.emplace_back(name, key_mark.line);
        // An empty value's own mark points past the line; its key is the better place.
        const Mark value_mark =
            value.IsNull() ? key_mark : diagnostics.locate(value.Mark(), key_mark);
        entries_.emplace_back(Field(key, path, key_mark, diagnostics),
                              Field(value, path, value_mark, diagnostics));
    }
}

std::string Mapping::child_path(std::string_view key) const {
    return self_.path().empty() ? std::string(key) : self_.path() + "." + std::string(key);
}

std::optional<Field> Mapping::get(std::string_view key) const {
    for (const auto& [name, value] : entries_) {
        if (name.node().Scalar() == key) return value;
    }
    return std::nullopt;
}

Field Mapping::get_or_null(std::string_view key) const {
    if (auto value = get(key)) return *value;
    return Field(YAML::Node(), child_path(key), self_.mark(), self_.diagnostics());
}

void Mapping::require(std::string_view key, const std::string& why) const {
    // A value of the wrong type was reported already; its missing keys would only be noise.
    if (!self_.node().IsNull() && !self_.node().IsMap()) return;
    const auto value = get(key);
    if (!value) {
        self_.diagnostics().report(
            self_.mark(), child_path(key),
            "required key is missing" + (why.empty() ? "" : " (" + why + ")"));
    } else if (value->is_null()) {
        value->error("a value is required");
    }
}

}  // namespace certgate::config::detail
