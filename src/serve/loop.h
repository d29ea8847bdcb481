// The daemon's one event loop (ninja's SubprocessSet shape): it owns the signals (a signalfd for
// SIGCHLD, SIGTERM, SIGINT, SIGHUP, blocked in every thread created after it), a wake-up eventfd
// that other threads use to hand work over, and a few watched descriptors (the admin socket).
// Everything else (processes, probes, timers) is passive state that the loop's owner advances.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "base/result.h"

namespace sparkctl::serve {

class Loop {
  public:
    // Blocks the signals in the calling thread (construct it before any other thread starts, so
    // they inherit the mask and the signals reach only the signalfd). Errors: io.
    static base::Result<std::unique_ptr<Loop>> create(std::vector<int> signals);
    ~Loop();  // restores the signal mask of the constructing thread
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    // Calls `on_readable` from run_once whenever `fd` is readable. The loop does not own fd.
    void watch(int fd, std::function<void()> on_readable);
    void unwatch(int fd);

    // Thread-safe: runs `fn` on the loop thread during the next run_once.
    void post(std::function<void()> fn);

    // Waits up to `timeout_ms` (-1: no limit) for a signal, a posted function or a watched
    // descriptor, dispatches them, and returns the signals that arrived (in order).
    std::vector<int> run_once(int timeout_ms);

  private:
    Loop() = default;
    int signal_fd_ = -1;
    int event_fd_ = -1;
    std::vector<int> signals_;
    std::map<int, std::function<void()>> watched_;
    std::mutex posted_mutex_;
    std::vector<std::function<void()>> posted_;
};

}  // namespace sparkctl::serve
