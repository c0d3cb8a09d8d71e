// The outcome of a policy step that says "no": the status certgate answers with, the
// short text of its body, and a stable rule code that logs and metrics reuse.
#pragma once

#include <string>

namespace certgate::policies {

struct Refusal {
    int status = 400;
    std::string reason;  // body text and log "reason", e.g. "client certificate required"
    std::string rule;    // stable code, e.g. "framing.cl_and_te", "verify", "path.encoded_slash"
};

}  // namespace certgate::policies
