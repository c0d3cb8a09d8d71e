// ReadLatch leans on Asio's reactor internals (Boost 1.81, epoll): these tests pin the
// behaviour it relies on, over real loopback TCP connections.
#include "proxy/read_latch.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>

namespace certgate::proxy {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

struct Pair {
    explicit Pair(net::io_context& ioc) : near(ioc), far(ioc) {
        tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
        far.connect(acceptor.local_endpoint());
        acceptor.accept(near);
        near.non_blocking(true);
    }
    tcp::socket near;  // the side the latch watches
    tcp::socket far;
};

// Runs handlers until `done` holds; false if 5 s pass first.
bool run_until(net::io_context& ioc, const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        ioc.restart();
        ioc.run_for(5ms);
    }
    return true;
}

// Turns of the event loop with nothing expected to happen.
void run_idle(net::io_context& ioc) {
    ioc.restart();
    ioc.run_for(20ms);
}

// A latch watching the near end of a fresh loopback connection.
class ReadLatchTest : public ::testing::Test {
protected:
    void send(char c) { net::write(p.far, net::buffer(&c, 1)); }
    bool fires() { return run_until(ioc, [&] { return latch.fired(); }); }
    char receive() {
        char c = 0;
        return ::recv(p.near.native_handle(), &c, 1, MSG_DONTWAIT) == 1 ? c : '\0';
    }

    net::io_context ioc;
    Pair p{ioc};
    ReadLatch latch;
};

TEST_F(ReadLatchTest, FiresOnTheNextEdgeOnly) {
    EXPECT_FALSE(latch.armed());
    latch.arm(p.near);
    EXPECT_TRUE(latch.armed());
    EXPECT_TRUE(latch.waiting());
    run_idle(ioc);
    EXPECT_TRUE(latch.waiting()) << "fired with nothing sent";

    send('x');
    ASSERT_TRUE(fires());
    EXPECT_FALSE(latch.result());
    EXPECT_FALSE(latch.waiting());
}

TEST_F(ReadLatchTest, AWaitQueuedBehindItCompletesOnTheSameEdge) {
    latch.arm(p.near);
    std::optional<boost::system::error_code> waited;
    p.near.async_wait(net::socket_base::wait_read, [&](auto ec) { waited = ec; });
    run_idle(ioc);
    EXPECT_FALSE(waited) << "the wait completed with nothing sent";

    send('x');
    ASSERT_TRUE(run_until(ioc, [&] { return waited && latch.fired(); }));
    EXPECT_FALSE(*waited);
    EXPECT_EQ(receive(), 'x');
}

TEST_F(ReadLatchTest, FiresWhenThePeerCloses) {
    latch.arm(p.near);
    p.far.close();
    ASSERT_TRUE(fires());
}

TEST_F(ReadLatchTest, CancellationFiresItWithOperationAborted) {
    latch.arm(p.near);
    p.near.cancel();
    ASSERT_TRUE(fires());
    EXPECT_EQ(latch.result(), net::error::operation_aborted);
}

TEST_F(ReadLatchTest, ArmingAgainAfterFiringWatchesForTheNextEdge) {
    latch.arm(p.near);
    send('x');
    ASSERT_TRUE(fires());
    ASSERT_EQ(receive(), 'x');
    latch.arm(p.near);  // drained just now
    run_idle(ioc);
    EXPECT_TRUE(latch.waiting());
    send('y');
    ASSERT_TRUE(fires());
}

TEST(ReadLatch, SurvivesItsSocketAndItsContext) {
    auto ioc = std::make_unique<net::io_context>();
    ReadLatch closed_under_it, queued_at_destruction;
    {
        Pair p(*ioc);
        closed_under_it.arm(p.near);
        p.near.close();
        ASSERT_TRUE(run_until(*ioc, [&] { return closed_under_it.fired(); }));
    }
    auto p = std::make_unique<Pair>(*ioc);
    queued_at_destruction.arm(p->near);
    p.reset();    // its cancellation is queued...
    ioc.reset();  // ...and destroyed with the context, not run (ASan checks the rest)
    EXPECT_TRUE(queued_at_destruction.waiting());
}

}  // namespace
}  // namespace certgate::proxy
