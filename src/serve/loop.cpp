#include "serve/loop.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sparkctl::serve {

using base::Errc;
using base::make_error;

base::Result<std::unique_ptr<Loop>> Loop::create(std::vector<int> signals) {
    std::unique_ptr<Loop> loop(new Loop());
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : signals) sigaddset(&mask, s);
    if (::pthread_sigmask(SIG_BLOCK, &mask, nullptr) != 0) {
        return make_error(Errc::io, "serve loop: cannot block signals");
    }
    loop->signals_ = std::move(signals);
    loop->signal_fd_ = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    loop->event_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (loop->signal_fd_ < 0 || loop->event_fd_ < 0) {
        return make_error(Errc::io, std::string("serve loop: ") + std::strerror(errno));
    }
    return loop;
}

Loop::~Loop() {
    if (signal_fd_ >= 0) ::close(signal_fd_);
    if (event_fd_ >= 0) ::close(event_fd_);
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : signals_) sigaddset(&mask, s);
    ::pthread_sigmask(SIG_UNBLOCK, &mask, nullptr);
}

void Loop::watch(int fd, std::function<void()> on_readable) {
    watched_[fd] = std::move(on_readable);
}

void Loop::unwatch(int fd) { watched_.erase(fd); }

void Loop::post(std::function<void()> fn) {
    {
        std::lock_guard<std::mutex> lock(posted_mutex_);
        posted_.push_back(std::move(fn));
    }
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(event_fd_, &one, sizeof one);
}

std::vector<int> Loop::run_once(int timeout_ms) {
    std::vector<pollfd> fds = {{signal_fd_, POLLIN, 0}, {event_fd_, POLLIN, 0}};
    for (const auto& [fd, cb] : watched_) fds.push_back({fd, POLLIN, 0});
    std::vector<int> signals;
    int ready = ::poll(fds.data(), static_cast<nfds_t>(fds.size()), timeout_ms);
    if (ready <= 0) return signals;
    if (fds[0].revents & POLLIN) {
        signalfd_siginfo info;
        while (::read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
            signals.push_back(static_cast<int>(info.ssi_signo));
        }
    }
    if (fds[1].revents & POLLIN) {
        std::uint64_t count = 0;
        [[maybe_unused]] auto n = ::read(event_fd_, &count, sizeof count);
    }
    std::vector<std::function<void()>> posted;
    {
        std::lock_guard<std::mutex> lock(posted_mutex_);
        posted.swap(posted_);
    }
    for (auto& fn : posted) fn();
    for (std::size_t i = 2; i < fds.size(); ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        auto it = watched_.find(fds[i].fd);  // a callback may have unwatched it
        if (it != watched_.end()) {
            auto cb = it->second;
            cb();
        }
    }
    return signals;
}

}  // namespace sparkctl::serve
