// JSON lines on stdout: one per request, and one per error, reload or notable event.
#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace certgate::proxy {

struct RequestLogEntry {
    std::chrono::system_clock::time_point time;
    std::string_view client;  // "ip:port"
    std::string_view method;
    std::string_view path;
    int status = 0;
    std::uint64_t bytes_in = 0;   // request body bytes received
    std::uint64_t bytes_out = 0;  // response body bytes sent
    double duration_ms = 0;
    double upstream_ms = -1;  // -1: no upstream exchange
    std::string_view policy;
    std::string_view verify;  // SUCCESS | NONE | FAILED:<reason>
    std::string_view subject;
    std::string_view fingerprint;
    std::string_view request_id;
    std::string_view reason;  // for refusals and errors
    std::string_view rule;
};

// Appends `s` to `out` as the inside of a JSON string (quotes not included).
void append_json_escaped(std::string& out, std::string_view s);

class AccessLog {
public:
    // A logger that writes raw lines to stdout. One per worker thread: no shared lock beyond
    // stdio's own.
    explicit AccessLog(std::string name);
    // Request lines are buffered, to be written together by flush(): true for the first line
    // since the last flush, when the caller schedules one. Events are written at once.
    bool request(const RequestLogEntry& e);
    void flush();
    // {"time":..,"level":..,"event":..,<fields>}
    void event(std::string_view level, std::string_view event,
               const std::vector<std::pair<std::string_view, std::string>>& fields);

private:
    void append_time(std::chrono::system_clock::time_point tp);
    void emit();

    std::shared_ptr<spdlog::logger> logger_;
    std::string line_;
    std::int64_t second_ = INT64_MIN;  // of second_prefix_, in seconds since the epoch
    std::string second_prefix_;
    bool unflushed_ = false;
};

// Process-wide event log for start-up, reload, shutdown and errors outside a worker.
AccessLog& process_log();

}  // namespace certgate::proxy
