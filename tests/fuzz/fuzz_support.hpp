// Helpers shared by the fuzz targets: turning fuzzer bytes into inputs, and a loud failure
// when an invariant breaks (libFuzzer records the input that caused the abort).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace certgate::fuzz {

[[noreturn]] inline void broken(const char* invariant, std::string_view detail = {}) {
    std::fprintf(stderr, "invariant broken: %s\n%.*s\n", invariant, static_cast<int>(detail.size()),
                 detail.data());
    std::abort();
}

#define CERTGATE_FUZZ_CHECK(cond, detail) \
    do {                                   \
        if (!(cond)) ::certgate::fuzz::broken(#cond, (detail)); \
    } while (0)

// Splits on `sep`, keeping empty pieces.
inline std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    for (;;) {
        const auto at = s.find(sep);
        out.push_back(s.substr(0, at));
        if (at == std::string_view::npos) return out;
        s.remove_prefix(at + 1);
    }
}

inline std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

inline bool has_ctl(std::string_view v) {
    return v.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

// An RFC 9110 token (header names, methods).
inline bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos)
            return false;
    }
    return true;
}

// Takes the first byte of the input as a selector (0 when empty).
inline std::uint8_t take_byte(std::string_view& s) {
    if (s.empty()) return 0;
    const auto b = static_cast<std::uint8_t>(s.front());
    s.remove_prefix(1);
    return b;
}

}  // namespace certgate::fuzz
