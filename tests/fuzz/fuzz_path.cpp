// The path normalizer and router. Invariants: a normalized path starts with "/", holds no
// "." or ".." segment, no "//", nothing that decodes to "/", "\" or NUL, and normalizing it
// again changes nothing; the policy chosen for it is the same after re-normalization and in
// any letter case.
#include "policies/path.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace certgate;
using namespace certgate::fuzz;

namespace {

std::vector<config::Policy> make_policies() {
    std::vector<config::Policy> policies;
    for (const char* prefix : {"/admin", "/api/", "/static/img", "/~user", "/"}) {
        config::Policy p;
        p.name = prefix;
        p.paths = {prefix};
        policies.push_back(p);
    }
    policies[4].paths = {"/public", "/"};
    return policies;
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto policies = make_policies();
    const std::string_view target(reinterpret_cast<const char*>(data), size);
    const auto result = policies::normalize_target(target);
    CERTGATE_FUZZ_CHECK(result.target.has_value() != result.refusal.has_value(), target);
    if (result.refusal) {
        CERTGATE_FUZZ_CHECK(result.refusal->status == 400, target);
        return 0;
    }
    const auto& path = result.target->path;
    CERTGATE_FUZZ_CHECK(!path.empty() && path.front() == '/', path);
    CERTGATE_FUZZ_CHECK(path.find("//") == std::string::npos, path);
    CERTGATE_FUZZ_CHECK(path.find('\\') == std::string::npos, path);
    CERTGATE_FUZZ_CHECK(path.find('\0') == std::string::npos, path);
    CERTGATE_FUZZ_CHECK(path.find('?') == std::string::npos, path);
    for (auto segment : split(std::string_view(path).substr(1), '/'))
        CERTGATE_FUZZ_CHECK(segment != "." && segment != "..", path);
    const auto lowered = lower(path);
    CERTGATE_FUZZ_CHECK(lowered.find("%2f") == std::string::npos, path);
    CERTGATE_FUZZ_CHECK(lowered.find("%5c") == std::string::npos, path);
    CERTGATE_FUZZ_CHECK(lowered.find("%00") == std::string::npos, path);

    const auto again = policies::normalize_target(path + result.target->query);
    CERTGATE_FUZZ_CHECK(again.target && again.target->path == path, path);
    CERTGATE_FUZZ_CHECK(again.target->query == result.target->query, path);

    const auto chosen = policies::route(policies, path);
    CERTGATE_FUZZ_CHECK(chosen.has_value(), path);  // "/" catches everything
    CERTGATE_FUZZ_CHECK(policies::route(policies, again.target->path) == chosen, path);
    CERTGATE_FUZZ_CHECK(policies::route(policies, upper(path)) == chosen, path);
    return 0;
}
