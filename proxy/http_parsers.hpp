// Beast parser adapters. Derived straight from basic_parser so that certgate sees every
// field as sent (spelling, duplicates) and keeps body bytes in its own buffer: each put()
// yields at most one body piece, which the caller relays before parsing on. Trailers are
// dropped here: Beast would otherwise report them as fields after the body.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "policies/header_list.hpp"
#include "policies/request_head.hpp"

namespace certgate::proxy {

template <bool IsRequest>
class RelayParser : public boost::beast::http::basic_parser<IsRequest> {
public:
    using error_code = boost::beast::error_code;
    using sv = boost::beast::string_view;  // boost::core::string_view in Boost 1.81

    // put() for the body. Beast checks trailer fields with its header rules (to it a trailer
    // named Content-Length or Transfer-Encoding is a framing error), but certgate drops
    // trailers unread, so an error found after the last chunk ends the message where its
    // trailer section ends, as any other trailer would. Parse from one flat buffer: the end
    // of the trailer section is found in it.
    std::size_t put_body(boost::asio::const_buffer input, error_code& ec) {
        input_ = std::string_view(static_cast<const char*>(input.data()), input.size());
        trailer_end_ = std::string_view::npos;
        std::size_t used = this->put(input, ec);
        if (trailer_end_ != std::string_view::npos && is_header_rule_error(ec)) {
            ec = {};
            used = trailer_end_;
            ended_in_trailer_ = true;
        }
        input_ = {};
        return used;
    }
    // The errors Beast's rules for Content-Length, Transfer-Encoding and Connection give
    // (a malformed trailer line stays an error).
    static bool is_header_rule_error(const error_code& ec) {
        namespace http = boost::beast::http;
        return ec == http::error::bad_content_length ||
               ec == http::error::multiple_content_length ||
               ec == http::error::bad_transfer_encoding || ec == http::error::bad_value;
    }
    // The whole message has been parsed (is_done(), or ended by put_body() as above).
    bool complete() const { return ended_in_trailer_ || this->is_done(); }

    // The body piece produced by the last put(), if any (points into the caller's buffer).
    std::string_view take_body_piece() {
        auto p = piece_;
        piece_ = {};
        return p;
    }

protected:
    void on_field_impl(boost::beast::http::field, sv name, sv value, error_code&) override {
        if (!header_done_)
            fields().add(std::string_view(name),
                         std::string_view(value));  // after the header: a trailer, dropped
    }
    void on_header_impl(error_code&) override { header_done_ = true; }
    void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
    std::size_t on_body_impl(sv body, error_code&) override {
        piece_ = std::string_view(body.data(), body.size());
        return body.size();
    }
    void on_chunk_header_impl(std::uint64_t size, sv extensions, error_code&) override {
        if (size != 0) return;
        // The last chunk: Beast calls this once the whole trailer section is in its input,
        // the extensions ending at the CRLF of the chunk line.
        const char* at = extensions.data() + extensions.size();
        if (at < input_.data() || at > input_.data() + input_.size()) return;
        const auto from = static_cast<std::size_t>(at - input_.data());
        const auto end = input_.find("\r\n\r\n", from);
        if (end != std::string_view::npos) trailer_end_ = end + 4;
    }
    std::size_t on_chunk_body_impl(std::uint64_t, sv body, error_code&) override {
        piece_ = std::string_view(body.data(), body.size());
        return body.size();
    }
    void on_finish_impl(error_code&) override {}
    void on_request_impl(boost::beast::http::verb, sv, sv, int, error_code&) override {}
    void on_response_impl(int, sv, int, error_code&) override {}

    virtual policies::HeaderList& fields() = 0;

private:
    std::string_view piece_;
    std::string_view input_;  // put_body()'s input, while it runs
    std::size_t trailer_end_ = std::string_view::npos;
    bool ended_in_trailer_ = false;
    bool header_done_ = false;
};

class RequestParser final : public RelayParser<true> {
public:
    explicit RequestParser(policies::RequestHead& head) : head_(head) {}

private:
    void on_request_impl(boost::beast::http::verb, sv method, sv target, int version,
                         error_code&) override {
        head_.method.assign(method.data(), method.size());
        head_.target.assign(target.data(), target.size());
        head_.version = static_cast<unsigned>(version);
    }
    policies::HeaderList& fields() override { return head_.headers; }

    policies::RequestHead& head_;
};

struct ResponseHead {
    int status = 0;
    std::string reason;
    unsigned version = 11;
    policies::HeaderList headers;
    void clear() {
        status = 0;
        reason.clear();
        version = 11;
        headers.clear();
    }
};

class ResponseParser final : public RelayParser<false> {
public:
    explicit ResponseParser(ResponseHead& head) : head_(head) {}

private:
    void on_response_impl(int status, sv reason, int version, error_code&) override {
        head_.status = status;
        head_.reason.assign(reason.data(), reason.size());
        head_.version = static_cast<unsigned>(version);
    }
    policies::HeaderList& fields() override { return head_.headers; }

    ResponseHead& head_;
};

}  // namespace certgate::proxy
