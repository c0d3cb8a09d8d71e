// Set-Cookie rewriting. Invariants: the cookie's name=value (everything before the first ';')
// is kept byte for byte; the result ends with the attributes the policy sets; rewriting twice
// changes nothing more; nothing certgate appends carries CR, LF or NUL.
#include "policies/cookies.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace certgate;
using namespace certgate::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto flags = take_byte(in);
    if (has_ctl(in)) return 0;  // the response parser refuses these before any rewrite
    // An empty (or blank) Set-Cookie sets nothing; it is passed on as it came.
    if (in.find_first_not_of(" \t") == std::string_view::npos) return 0;
    config::Cookies cookies;
    cookies.secure = (flags & 1) != 0;
    if (flags & 2) cookies.same_site = static_cast<config::SameSite>((flags >> 2) % 3);

    const auto out = policies::rewrite_set_cookie(in, cookies);
    CERTGATE_FUZZ_CHECK(!has_ctl(out), out);
    const auto pair_end = in.find(';');
    const auto pair = in.substr(0, pair_end);
    CERTGATE_FUZZ_CHECK(std::string_view(out).substr(0, pair.size()) == pair, out);

    std::string suffix;
    const bool secure = cookies.secure || cookies.same_site == config::SameSite::none;
    if (secure) suffix += "; Secure";
    if (cookies.same_site) {
        static const char* names[] = {"Strict", "Lax", "None"};
        suffix += std::string("; SameSite=") + names[static_cast<int>(*cookies.same_site)];
    }
    CERTGATE_FUZZ_CHECK(std::string_view(out).ends_with(suffix), out);
    CERTGATE_FUZZ_CHECK(policies::rewrite_set_cookie(out, cookies) == out, out);
    return 0;
}
