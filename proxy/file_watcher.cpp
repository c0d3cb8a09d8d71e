#include "proxy/file_watcher.hpp"

#include <sys/inotify.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace certgate::proxy {

namespace net = boost::asio;
namespace fs = std::filesystem;

namespace {

// Replacing a file shows as CLOSE_WRITE (in place), MOVED_TO / CREATE (rename or new file,
// Kubernetes' `..data`), DELETE / MOVED_FROM (gone), ATTRIB (chmod, a new link count).
constexpr std::uint32_t kMask =
    IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ATTRIB | IN_MOVED_FROM | IN_ONLYDIR;
constexpr int kMaxSymlinkHops = 8;

struct WantedDir {
    std::set<std::string> names;
    bool any_name = false;
};

// Records the directories `file` depends on: its own, each one a symlink on its way sits in
// (any name there matters: a renamed link changes where the path leads), and the one the
// file finally resolves into (an in-place write to the target).
void add_file(std::map<fs::path, WantedDir>& want, const std::string& file) {
    std::error_code ec;
    fs::path p = fs::absolute(file, ec).lexically_normal();
    if (ec) return;
    for (int hop = 0; hop < kMaxSymlinkHops; ++hop) {
        auto& dir = want[p.parent_path()];
        dir.names.insert(p.filename().string());
        if (!fs::is_symlink(p, ec)) break;
        dir.any_name = true;
        fs::path target = fs::read_symlink(p, ec);
        if (ec) break;
        p = (target.is_absolute() ? target : p.parent_path() / target).lexically_normal();
    }
    fs::path real = fs::weakly_canonical(p, ec);
    if (!ec && real != p) want[real.parent_path()].names.insert(real.filename().string());
}

}  // namespace

FileWatcher::FileWatcher(net::io_context& ioc, Callback on_change)
    : inotify_(ioc), settle_(ioc), on_change_(std::move(on_change)) {
    int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "inotify_init1");
    inotify_.assign(fd);
    read();
}

FileWatcher::~FileWatcher() = default;

void FileWatcher::stop() {
    stopped_ = true;
    settle_.cancel();
    boost::system::error_code ec;
    inotify_.close(ec);
}

void FileWatcher::watch(const std::vector<std::string>& files) {
    if (stopped_) return;
    std::map<fs::path, WantedDir> want;
    for (const auto& f : files) add_file(want, f);
    std::map<int, Dir> next;
    for (auto& [path, wanted] : want) {
        // A directory that is missing right now (being replaced): watch the nearest ancestor
        // for the missing entry to appear.
        fs::path dir = path;
        std::set<std::string> names = wanted.names;
        bool any_name = wanted.any_name;
        int wd = -1;
        while ((wd = ::inotify_add_watch(inotify_.native_handle(), dir.c_str(), kMask)) < 0 &&
               errno == ENOENT && dir.has_relative_path()) {
            names = {dir.filename().string()};
            any_name = false;
            dir = dir.parent_path();
        }
        if (wd < 0) continue;
        // Two paths leading to one directory (`..data` and its target) share a descriptor.
        Dir& d = next[wd];
        if (d.path.empty()) d.path = dir.string();
        d.names.insert(names.begin(), names.end());
        d.any_name = d.any_name || any_name;
    }
    for (const auto& [wd, dir] : dirs_)
        if (!next.count(wd)) ::inotify_rm_watch(inotify_.native_handle(), wd);
    dirs_ = std::move(next);
}

void FileWatcher::read() {
    inotify_.async_read_some(net::buffer(buffer_),
                             [this](const boost::system::error_code& ec, std::size_t n) {
                                 if (ec || stopped_) return;
                                 handle(n);
                                 read();
                             });
}

void FileWatcher::handle(std::size_t bytes) {
    std::size_t offset = 0;
    while (offset + sizeof(inotify_event) <= bytes) {
        inotify_event ev;
        std::memcpy(&ev, buffer_.data() + offset, sizeof ev);
        const char* name_at = buffer_.data() + offset + sizeof ev;
        std::string name(name_at, ::strnlen(name_at, ev.len));
        offset += sizeof ev + ev.len;
        if (ev.mask & IN_Q_OVERFLOW) {  // events were lost: anything may have changed
            changed("");
            continue;
        }
        auto it = dirs_.find(ev.wd);
        if (it == dirs_.end()) continue;  // a watch removed since
        if (ev.mask & IN_IGNORED) {       // the directory itself went away
            std::string path = it->second.path;
            dirs_.erase(it);
            changed(path);
            continue;
        }
        if (it->second.any_name || it->second.names.count(name))
            changed(it->second.path + "/" + name);
    }
}

void FileWatcher::changed(const std::string& path) {
    const auto now = std::chrono::steady_clock::now();
    if (!pending_) {
        pending_ = true;
        pending_path_ = path;
        first_event_ = now;
    }
    settle_.expires_at(std::min(now + kQuiet, first_event_ + kMaxDelay));
    const unsigned generation = ++generation_;
    settle_.async_wait([this, generation](const boost::system::error_code& ec) {
        if (ec || stopped_ || generation != generation_) return;
        pending_ = false;
        const std::string path = std::move(pending_path_);
        pending_path_.clear();
        on_change_(path);
    });
}

}  // namespace certgate::proxy
