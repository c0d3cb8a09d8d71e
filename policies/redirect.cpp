#include "policies/redirect.hpp"

namespace certgate::policies {

std::string https_redirect_location(std::string_view host, std::uint16_t tls_port,
                                    std::string_view target) {
    std::string_view name = host;
    if (!name.empty() && name.front() == '[') {
        auto close = name.find(']');
        if (close != std::string_view::npos) name = name.substr(0, close + 1);
    } else if (auto colon = name.find(':'); colon != std::string_view::npos) {
        name = name.substr(0, colon);
    }
    std::string location = "https://";
    location += name;
    if (tls_port != 443) {
        location += ':';
        location += std::to_string(tls_port);
    }
    location += target;
    return location;
}

}  // namespace certgate::policies
