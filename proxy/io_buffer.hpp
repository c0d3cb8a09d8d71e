// Buffers of one worker thread. A connection holds memory only while bytes are in flight:
// an idle keep-alive connection gives its input block back to the worker's pool, and TLS
// writes borrow a staging block for the length of one write. At 10,000 idle connections
// that is the difference between ~160 MiB and nothing.
#pragma once

#include <boost/asio/buffer.hpp>
#include <cstddef>
#include <memory>
#include <vector>

namespace certgate::proxy {

// Fixed-size blocks, recycled per worker thread (not thread-safe; never shared).
class BufferPool {
public:
    static constexpr std::size_t kBlockSize = 16 * 1024;
    using Block = std::unique_ptr<char[]>;

    Block acquire();
    void release(Block block);

private:
    static constexpr std::size_t kMaxFree = 256;  // 4 MiB kept for reuse at most
    std::vector<Block> free_;
};

// The bytes read from a peer and not yet consumed, in one pooled block that grows onto the
// heap only for inputs larger than a block (a request head near its limit).
class InputBuffer {
public:
    explicit InputBuffer(BufferPool& pool) : pool_(pool) {}
    ~InputBuffer() { release(); }
    InputBuffer(const InputBuffer&) = delete;
    InputBuffer& operator=(const InputBuffer&) = delete;

    boost::asio::const_buffer data() const { return {storage_.get() + begin_, end_ - begin_}; }
    std::size_t size() const { return end_ - begin_; }
    // Room for at least `n` more bytes (at most n are offered).
    boost::asio::mutable_buffer prepare(std::size_t n);
    void commit(std::size_t n) { end_ += n; }
    void consume(std::size_t n);
    // Gives the storage back when nothing is buffered.
    void release();

private:
    BufferPool& pool_;
    BufferPool::Block storage_;
    std::size_t capacity_ = 0;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

}  // namespace certgate::proxy
