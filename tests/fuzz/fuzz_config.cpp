// The YAML configuration loader. Invariants: it never crashes and never throws anything but
// ConfigError; every message of a ConfigError starts with "fuzz.yaml:<line>:<col>: ".
#include <regex>

#include "config/config.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace certgate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::regex located(R"(^fuzz\.yaml:[0-9]+:[0-9]+: )");
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        (void)config::parse_config(text, "fuzz.yaml");
    } catch (const config::ConfigError& error) {
        CERTGATE_FUZZ_CHECK(!error.messages().empty(), text);
        for (const auto& m : error.messages())
            CERTGATE_FUZZ_CHECK(std::regex_search(m, located), m);
    }
    return 0;
}
