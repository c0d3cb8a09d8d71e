// An ordered list of HTTP header fields that keeps every name's original spelling and
// every duplicate. Storage is one arena string plus offsets, reused across requests on a
// connection (clear() keeps capacity), so the request path does not churn the heap.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certgate::policies {

// ASCII case-insensitive comparison (header names, tokens).
bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view s, std::string_view prefix);

class HeaderList {
public:
    void add(std::string_view name, std::string_view value);
    // Removes every field whose name equals `name` (case-insensitive), then adds one.
    void set(std::string_view name, std::string_view value);
    // Removes every field named `name` (case-insensitive). Returns how many were removed.
    std::size_t remove(std::string_view name);
    template <class Pred>
    std::size_t remove_if(Pred pred) {
        std::size_t n = 0;
        for (auto& e : entries_) {
            if (!e.removed && pred(view(e.name_off, e.name_len), view(e.value_off, e.value_len))) {
                e.removed = true;
                ++n;
            }
        }
        live_ -= n;
        return n;
    }
    // First value of `name` (case-insensitive), if present.
    std::optional<std::string_view> get(std::string_view name) const;
    std::size_t count(std::string_view name) const;
    std::size_t size() const { return live_; }
    bool empty() const { return live_ == 0; }
    void clear();

    // Visits live fields in order: f(name, value).
    template <class F>
    void for_each(F&& f) const {
        for (const auto& e : entries_)
            if (!e.removed) f(view(e.name_off, e.name_len), view(e.value_off, e.value_len));
    }

private:
    struct Entry {
        std::uint32_t name_off, name_len, value_off, value_len;
        bool removed;
    };
    std::string_view view(std::uint32_t off, std::uint32_t len) const {
        return std::string_view(arena_).substr(off, len);
    }
    std::string arena_;
    std::vector<Entry> entries_;
    std::size_t live_ = 0;
};

}  // namespace certgate::policies
