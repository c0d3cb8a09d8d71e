#include "proxy/access_log.hpp"

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <utility>

namespace certgate::proxy {
namespace {

void field(std::string& out, std::string_view key, std::string_view value) {
    out += ",\"";
    out += key;
    out += "\":\"";
    append_json_escaped(out, value);
    out += '"';
}

void number(std::string& out, std::string_view key, double value, int decimals) {
    out += ",\"";
    out += key;
    out += "\":";
    char buf[48];
    auto result = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed, decimals);
    out.append(buf, result.ptr);
}

void integer(std::string& out, std::string_view key, std::uint64_t value) {
    out += ",\"";
    out += key;
    out += "\":";
    char buf[24];
    auto result = std::to_chars(buf, buf + sizeof buf, value);
    out.append(buf, result.ptr);
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    // Most values need no escaping: copied in one piece up to the first byte that does.
    const auto plain = std::find_if(s.begin(), s.end(), [](unsigned char c) {
        return c < 0x20 || c == '"' || c == '\\' || c == 0x7f;
    });
    out.append(s.begin(), plain);
    s.remove_prefix(static_cast<std::size_t>(plain - s.begin()));
    for (unsigned char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 15];
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
}

namespace {

// Each message is one ready-made line, written into stdio's buffer as it is. spdlog's stdout
// sinks flush after every line; this one leaves that to flush(), so that the request lines of
// a busy moment leave in one system call.
class StdoutLineSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        std::fwrite(msg.payload.data(), 1, msg.payload.size(), stdout);  // ends in '\n'
    }
    void flush_() override { std::fflush(stdout); }
};

}  // namespace

AccessLog::AccessLog(std::string name)
    : logger_(std::make_shared<spdlog::logger>(std::move(name),
                                               std::make_shared<StdoutLineSink>())) {
    logger_->flush_on(spdlog::level::off);
    line_.reserve(1024);
}

// "2026-12-03T19:32:24.170Z": the part up to the second is formatted once a second.
void AccessLog::append_time(std::chrono::system_clock::time_point tp) {
    using namespace std::chrono;
    const auto ms = floor<milliseconds>(tp).time_since_epoch().count();
    const auto secs = floor<seconds>(tp).time_since_epoch().count();
    if (secs != second_) {
        const auto t = static_cast<std::time_t>(secs);
        struct tm tm {};
        gmtime_r(&t, &tm);
        char buf[32];
        const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.",
                                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                    tm.tm_min, tm.tm_sec);
        second_prefix_.assign(buf, static_cast<std::size_t>(std::max(n, 0)));
        second_ = secs;
    }
    const auto milli = static_cast<int>(ms - secs * 1000);
    line_ += second_prefix_;
    line_ += static_cast<char>('0' + milli / 100);
    line_ += static_cast<char>('0' + milli / 10 % 10);
    line_ += static_cast<char>('0' + milli % 10);
    line_ += 'Z';
}

// spdlog is handed the finished line as a string view with no time of its own to take: no
// formatting pass, no clock read.
void AccessLog::emit() {
    line_ += "}\n";
    logger_->log(spdlog::log_clock::time_point{}, spdlog::source_loc{}, spdlog::level::info,
                 spdlog::string_view_t(line_));
}

bool AccessLog::request(const RequestLogEntry& e) {
    line_.clear();
    line_ += "{\"time\":\"";
    append_time(e.time);
    line_ += "\",\"level\":\"info\",\"event\":\"request\"";
    field(line_, "client", e.client);
    field(line_, "method", e.method);
    field(line_, "path", e.path);
    integer(line_, "status", static_cast<std::uint64_t>(e.status));
    integer(line_, "bytes_in", e.bytes_in);
    integer(line_, "bytes_out", e.bytes_out);
    number(line_, "duration_ms", e.duration_ms, 3);
    if (e.upstream_ms >= 0) number(line_, "upstream_ms", e.upstream_ms, 3);
    field(line_, "policy", e.policy);
    field(line_, "verify", e.verify);
    if (!e.subject.empty()) field(line_, "subject", e.subject);
    if (!e.fingerprint.empty()) field(line_, "fingerprint", e.fingerprint);
    if (!e.request_id.empty()) field(line_, "request_id", e.request_id);
    if (!e.reason.empty()) field(line_, "reason", e.reason);
    if (!e.rule.empty()) field(line_, "rule", e.rule);
    emit();
    return !std::exchange(unflushed_, true);
}

void AccessLog::flush() {
    unflushed_ = false;
    logger_->flush();
}

void AccessLog::event(std::string_view level, std::string_view event,
                      const std::vector<std::pair<std::string_view, std::string>>& fields) {
    line_.clear();
    line_ += "{\"time\":\"";
    append_time(std::chrono::system_clock::now());
    line_ += '"';
    field(line_, "level", level);
    field(line_, "event", event);
    for (const auto& [k, v] : fields) field(line_, k, v);
    emit();
    flush();
}

AccessLog& process_log() {
    static AccessLog log("certgate");
    return log;
}

}  // namespace certgate::proxy
