// A record of "this socket became readable", kept without a system call.
//
// Asio registers each socket with epoll once, edge-triggered, and keeps no record of an edge
// that came while nothing waited: so every async_wait re-arms the registration with
// epoll_ctl, to be told again of data that may have come meanwhile. On the request path that
// is one system call per request (the wait for a keep-alive client's next request; the check
// that a pooled app connection is still clean before it is reused), which on our machines
// costs as much as the read that follows.
//
// A ReadLatch is instead queued in the reactor as a read operation that never reads, from a
// moment when no edge can have been missed (straight after a read, before the event loop
// runs again) until the next edge: it fires on that edge, on an error or hang-up, or when
// the socket is cancelled or closed. Queued this way, it costs no system call; and while it
// is queued, an ordinary async_wait for reading queues behind it without one either (Asio
// re-arms only a descriptor that nothing waits on), to complete on the same edge.
//
// Its limit: an edge is the arrival of something new. An EOF that arrived together with the
// bytes of the read before the arm has had its edge already, and only the next read reports
// it; callers account for that (README, "Keep-alive without a system call per wait").
//
// This uses Asio's reactor interface from its detail namespace (Boost 1.81, epoll), in this
// one file only; read_latch_test pins the behaviour relied on, so that a Boost upgrade that
// changes it fails there first.
#pragma once

#include <boost/asio/basic_socket.hpp>
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <memory>

namespace certgate::proxy {

class ReadLatch {
public:
    using error_code = boost::system::error_code;

    ReadLatch() : state_(std::make_shared<State>()) {}
    ReadLatch(const ReadLatch&) = delete;
    ReadLatch& operator=(const ReadLatch&) = delete;

    // Starts watching `socket` (no system call). Call only when a read has just found the
    // socket drained, or has taken what was there, with no turn of the event loop since:
    // an edge from before the arm is not seen. A latch armed and not yet fired stays as it
    // is (it is queued, or its cancellation is on its way).
    template <typename Protocol, typename Executor>
    void arm(boost::asio::basic_socket<Protocol, Executor>& socket) {
        if (state_->armed && !state_->fired) return;
        auto& impl = Access<Protocol, Executor>::implementation(socket);
        // Looked up once (a locked search of the context's services): a latch serves one
        // socket, or sockets of one io_context.
        if (reactor_ == nullptr)
            reactor_ = &boost::asio::use_service<boost::asio::detail::reactor>(
                socket.get_executor().context());
        arm(impl.socket_, impl.reactor_data_);
    }
    bool armed() const { return state_->armed; }
    // Armed, and the socket became readable (or failed, or was cancelled) since.
    bool fired() const { return state_->armed && state_->fired; }
    // Armed and not fired: a wait for reading costs no system call.
    bool waiting() const { return state_->armed && !state_->fired; }
    // What fired it: success when the socket became readable, operation_aborted when it
    // was cancelled.
    const error_code& result() const { return state_->ec; }

private:
    // Shared with the queued operation, which may complete after the latch is gone.
    static constexpr std::size_t kOpBytes = 128;
    struct State {
        bool armed = false;
        bool fired = false;
        error_code ec;
        // The queued operation (read_latch.cpp) is built here on each arm and ends when it
        // completes: arming allocates nothing.
        alignas(std::max_align_t) unsigned char op[kOpBytes];
    };
    class Op;

    template <typename Protocol, typename Executor>
    struct Access : boost::asio::basic_socket<Protocol, Executor> {
        static auto& implementation(boost::asio::basic_socket<Protocol, Executor>& s) {
            return (s.*(&Access::impl_)).get_implementation();
        }
    };

    void arm(int descriptor, boost::asio::detail::reactor::per_descriptor_data& data);
    std::shared_ptr<State> state_;
    boost::asio::detail::reactor* reactor_ = nullptr;
};

}  // namespace certgate::proxy
