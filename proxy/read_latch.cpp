#include "proxy/read_latch.hpp"

#include <new>
#include <utility>

namespace certgate::proxy {

namespace net = boost::asio;
using net::detail::reactor_op;

// The reactor asks a queued operation to perform itself when the socket reports an edge,
// and once more when it is queued, unless another read is queued already. The latch must
// not fire on that first call: it is there to wait for the next edge.
class ReadLatch::Op final : public reactor_op {
public:
    explicit Op(std::shared_ptr<State> state)
        : reactor_op(error_code(), &Op::perform, &Op::complete), state_(std::move(state)) {}

    bool queued = false;

private:
    static status perform(reactor_op* base) {
        return static_cast<Op*>(base)->queued ? done : not_done;
    }
    // owner is null when the io_context is destroyed with the latch still queued.
    static void complete(void* owner, net::detail::scheduler_operation* base, const error_code&,
                         std::size_t) {
        auto* op = static_cast<Op*>(base);
        std::shared_ptr<State> state = std::move(op->state_);
        const error_code ec = op->ec_;
        op->~Op();
        if (owner != nullptr) {  // null: the io_context is being destroyed
            state->fired = true;
            state->ec = ec;
        }
        // `state` may be the last owner of the storage the operation lived in: dropped last.
    }

    std::shared_ptr<State> state_;
};

void ReadLatch::arm(int descriptor, net::detail::reactor::per_descriptor_data& data) {
    static_assert(sizeof(Op) <= kOpBytes && alignof(Op) <= alignof(std::max_align_t));
    // Not armed, or fired: no operation of this latch is queued, and its storage is free.
    state_->armed = true;
    state_->fired = false;
    auto* op = new (state_->op) Op(state_);
    // Speculative start: the reactor calls perform() at once (not done) and queues the
    // operation without touching the epoll registration.
    reactor_->start_op(net::detail::reactor::read_op, descriptor, data, op, false, true);
    op->queued = true;
}

}  // namespace certgate::proxy
