// The request log line's text: its time stamp (formatted once a second, then reused), its
// escaping and its one newline. Written to the real stdout and read back.
#include "proxy/access_log.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

namespace certgate::proxy {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

system_clock::time_point at(long long ms_since_epoch) {
    return system_clock::time_point(milliseconds(ms_since_epoch));
}

std::string lines_for(const std::vector<RequestLogEntry>& entries) {
    AccessLog log("test");
    testing::internal::CaptureStdout();
    for (const auto& e : entries) log.request(e);
    log.flush();
    return testing::internal::GetCapturedStdout();
}

RequestLogEntry entry(system_clock::time_point t) {
    RequestLogEntry e;
    e.time = t;
    e.client = "127.0.0.1:4000";
    e.method = "GET";
    e.path = "/";
    e.status = 200;
    e.policy = "default";
    e.verify = "SUCCESS";
    return e;
}

std::vector<std::string> times_in(const std::string& text) {
    std::vector<std::string> out;
    const std::string key = "{\"time\":\"";
    for (std::size_t pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos + 1))
        out.push_back(text.substr(pos + key.size(), 24));
    return out;
}

TEST(AccessLogTest, TimeStampsFollowTheClockAcrossSecondsAndBackwards) {
    // 1999-12-31T23:59:59.999Z is 946684799999 ms after the epoch.
    const auto text = lines_for({entry(at(946684799999)), entry(at(946684800000)),
                                 entry(at(946684800007)), entry(at(946684800050)),
                                 entry(at(946684799500)),  // the clock stepped back
                                 entry(at(0))});
    EXPECT_EQ(times_in(text),
              (std::vector<std::string>{"1999-12-31T23:59:59.999Z", "2000-01-01T00:00:00.000Z",
                                        "2000-01-01T00:00:00.007Z", "2000-01-01T00:00:00.050Z",
                                        "1999-12-31T23:59:59.500Z", "1970-01-01T00:00:00.000Z"}));
}

TEST(AccessLogTest, EachLineIsOneJsonObjectWithEscapedValues) {
    auto e = entry(at(946684800123));
    e.path = "/a\"b\\c\n\x01";
    e.rule = "csrf";
    const auto text = lines_for({e, entry(at(946684800124))});
    const auto first = text.substr(0, text.find('\n'));
    EXPECT_EQ(first.front(), '{');
    EXPECT_EQ(first.back(), '}');
    EXPECT_NE(first.find(R"("path":"/a\"b\\c\n\u0001")"), std::string::npos) << first;
    EXPECT_NE(first.find(R"("rule":"csrf")"), std::string::npos) << first;
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
    EXPECT_EQ(text.back(), '\n');
    EXPECT_EQ(text.find("\n\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace certgate::proxy
