// Watches the config file and every file it names, and calls back once writes have settled.
// inotify on the parent directories, not the files: editors and `mv` replace a file (a new
// inode), and Kubernetes updates a mounted Secret by renaming its `..data` symlink over to a
// new timestamped directory, which no watch on the old file would ever see.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace certgate::proxy {

class FileWatcher {
public:
    // `on_change` gets the first path seen changing since the last call ("" when unknown,
    // e.g. the kernel's event queue overflowed).
    using Callback = std::function<void(const std::string& changed_path)>;

    // Throws std::system_error when inotify is unavailable.
    FileWatcher(boost::asio::io_context& ioc, Callback on_change);
    ~FileWatcher();
    FileWatcher(const FileWatcher&) = delete;
    FileWatcher& operator=(const FileWatcher&) = delete;

    // Replaces the watch set with the directories `files` live in (and, for symlinks, the
    // directories they resolve through). Paths that cannot be watched are skipped.
    void watch(const std::vector<std::string>& files);
    // Cancels everything; pending handlers return without touching anything else.
    void stop();

    // A change is reported once no event has come for kQuiet (cert then key, written one
    // after the other, make one reload), or kMaxDelay after the first, whichever is sooner.
    static constexpr std::chrono::milliseconds kQuiet{250};
    static constexpr std::chrono::milliseconds kMaxDelay{2000};

private:
    struct Dir {
        std::string path;
        std::set<std::string> names;  // entries that matter
        bool any_name = false;        // a watched path resolves through a symlink here
    };
    void read();
    void handle(std::size_t bytes);
    void changed(const std::string& path);

    boost::asio::posix::stream_descriptor inotify_;
    boost::asio::steady_timer settle_;
    Callback on_change_;
    std::map<int, Dir> dirs_;  // by watch descriptor
    bool pending_ = false;
    std::string pending_path_;
    std::chrono::steady_clock::time_point first_event_;
    unsigned generation_ = 0;  // a timer handler from before the latest re-arm is stale
    bool stopped_ = false;
    alignas(8) std::array<char, 16 * 1024> buffer_;
};

}  // namespace certgate::proxy
