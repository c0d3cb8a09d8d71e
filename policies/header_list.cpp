#include "policies/header_list.hpp"

#include <functional>

namespace certgate::policies {

namespace {

// Locale-free: header names and tokens are ASCII (RFC 9110 5.1), and a locale-dependent
// tolower could fold a non-ASCII byte into an ASCII letter.
constexpr char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

void HeaderList::add(std::string_view name, std::string_view value) {
    // A view into our own arena (e.g. a value from get()) would dangle if append() reallocates.
    const char* lo = arena_.data();
    const char* hi = lo + arena_.size();
    auto inside = [&](std::string_view v) {
        return !v.empty() && std::less_equal<const char*>{}(lo, v.data()) &&
               std::less<const char*>{}(v.data(), hi);
    };
    if (inside(name) || inside(value)) {
        const std::string n(name), v(value);
        add(n, v);
        return;
    }
    Entry e{};
    e.name_off = static_cast<std::uint32_t>(arena_.size());
    e.name_len = static_cast<std::uint32_t>(name.size());
    arena_.append(name);
    e.value_off = static_cast<std::uint32_t>(arena_.size());
    e.value_len = static_cast<std::uint32_t>(value.size());
    arena_.append(value);
    e.removed = false;
    entries_.push_back(e);
    ++live_;
}

void HeaderList::set(std::string_view name, std::string_view value) {
    // The removed fields' bytes stay in the arena until clear(), so `value` may alias one.
    remove(name);
    add(name, value);
}

std::size_t HeaderList::remove(std::string_view name) {
    return remove_if([name](std::string_view n, std::string_view) { return iequals(n, name); });
}

std::optional<std::string_view> HeaderList::get(std::string_view name) const {
    for (const auto& e : entries_)
        if (!e.removed && iequals(view(e.name_off, e.name_len), name))
            return view(e.value_off, e.value_len);
    return std::nullopt;
}

std::size_t HeaderList::count(std::string_view name) const {
    std::size_t n = 0;
    for (const auto& e : entries_)
        if (!e.removed && iequals(view(e.name_off, e.name_len), name)) ++n;
    return n;
}

void HeaderList::clear() {
    arena_.clear();
    entries_.clear();
    live_ = 0;
}

}  // namespace certgate::policies
