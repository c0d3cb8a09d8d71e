#include "proxy/io_buffer.hpp"

#include <algorithm>
#include <cstring>

namespace certgate::proxy {

BufferPool::Block BufferPool::acquire() {
    if (free_.empty()) return Block(new char[kBlockSize]);
    Block b = std::move(free_.back());
    free_.pop_back();
    return b;
}

void BufferPool::release(Block block) {
    if (block && free_.size() < kMaxFree) free_.push_back(std::move(block));
}

boost::asio::mutable_buffer InputBuffer::prepare(std::size_t n) {
    const std::size_t held = size();
    if (capacity_ - end_ < n) {
        if (held + n <= capacity_) {
            std::memmove(storage_.get(), storage_.get() + begin_, held);
        } else if (held + n <= BufferPool::kBlockSize && capacity_ == 0) {
            storage_ = pool_.acquire();
            capacity_ = BufferPool::kBlockSize;
        } else {
            const std::size_t grown = std::max(held + n, std::max(capacity_ * 2, BufferPool::kBlockSize));
            BufferPool::Block bigger(new char[grown]);
            if (held > 0) std::memcpy(bigger.get(), storage_.get() + begin_, held);
            if (capacity_ == BufferPool::kBlockSize)
                pool_.release(std::move(storage_));
            storage_ = std::move(bigger);
            capacity_ = grown;
        }
        begin_ = 0;
        end_ = held;
    }
    return {storage_.get() + end_, n};
}

void InputBuffer::consume(std::size_t n) {
    begin_ += std::min(n, size());
    if (begin_ == end_) begin_ = end_ = 0;
}

void InputBuffer::release() {
    if (size() > 0 || !storage_) return;
    if (capacity_ == BufferPool::kBlockSize)
        pool_.release(std::move(storage_));
    storage_.reset();
    capacity_ = 0;
    begin_ = end_ = 0;
}

}  // namespace certgate::proxy
