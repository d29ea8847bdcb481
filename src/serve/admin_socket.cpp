#include "serve/admin_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace sparkctl::serve {

using base::Errc;
using base::make_error;
using base::Result;

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxRequestBytes = 64 * 1024;

Result<sockaddr_un> address(const fs::path& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.native().size() >= sizeof addr.sun_path) {
        return make_error(Errc::bad_input, path.string() + ": socket path too long (over " +
                                               std::to_string(sizeof addr.sun_path - 1) +
                                               " bytes)");
    }
    std::memcpy(addr.sun_path, path.c_str(), path.native().size() + 1);
    return addr;
}

}  // namespace

fs::path default_socket_path() {
    const char* runtime = std::getenv("XDG_RUNTIME_DIR");
    if (runtime != nullptr && *runtime != '\0')
        return fs::path(runtime) / "sparkctl" / "admin.sock";
    return fs::path("/tmp") / ("sparkctl-" + std::to_string(::getuid())) / "admin.sock";
}

void AdminReply::send(const std::string& body) {
    if (sink_) {
        Sink sink = std::move(sink_);
        sink_ = nullptr;
        sink(body);
        return;
    }
    if (fd_ < 0) return;
    std::string data = body + "\n";
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // the client went away (or stopped reading for SO_SNDTIMEO)
        done += static_cast<std::size_t>(n);
    }
    ::close(fd_);
    fd_ = -1;
}

Result<std::unique_ptr<AdminListener>> AdminListener::listen(const fs::path& path,
                                                             OnRequest on_request) {
    auto addr = address(path);
    if (!addr) return addr.error();
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    ::chmod(path.parent_path().c_str(), 0700);
    fs::remove(path, ec);  // stale from a daemon that died: the caller holds the lock
    std::unique_ptr<AdminListener> l(new AdminListener());
    l->fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (l->fd_ < 0) return make_error(Errc::io, path.string() + ": " + std::strerror(errno));
    mode_t old = ::umask(0177);  // the socket file is created 0600
    int rc = ::bind(l->fd_, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr);
    ::umask(old);
    if (rc != 0 || ::listen(l->fd_, 64) != 0) {
        return make_error(Errc::io, path.string() + ": cannot listen: " + std::strerror(errno));
    }
    ::chmod(path.c_str(), 0600);
    l->path_ = path;
    l->on_request_ = std::move(on_request);
    return l;
}

AdminListener::~AdminListener() {
    for (auto& [fd, data] : partial_) ::close(fd);
    if (fd_ >= 0) {
        ::close(fd_);
        std::error_code ec;
        fs::remove(path_, ec);
    }
}

std::vector<int> AdminListener::accept_all() {
    std::vector<int> out;
    for (;;) {
        int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) break;
        timeval tv{2, 0};  // a client that stops reading cannot stall the loop for long
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        // Replies are written blocking (small documents), reads stay non-blocking.
        partial_[fd];
        out.push_back(fd);
    }
    return out;
}

bool AdminListener::read_from(int fd) {
    auto it = partial_.find(fd);
    if (it == partial_.end()) return false;
    char buf[4096];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        if (n <= 0 || it->second.size() + static_cast<std::size_t>(n) > kMaxRequestBytes) {
            ::close(fd);
            partial_.erase(it);
            return false;
        }
        it->second.append(buf, static_cast<std::size_t>(n));
        auto nl = it->second.find('\n');
        if (nl != std::string::npos) {
            std::string line = it->second.substr(0, nl);
            partial_.erase(it);
            int flags = ::fcntl(fd, F_GETFL);
            ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
            on_request_(line, AdminReply(fd));
            return false;
        }
    }
}

Result<int> lock_socket(const fs::path& socket_path) {
    std::error_code ec;
    fs::create_directories(socket_path.parent_path(), ec);
    auto lock_path = socket_path.string() + ".lock";
    int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return make_error(Errc::io, lock_path + ": " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        return make_error(Errc::io, "another sparkctl serve is running on " + socket_path.string());
    }
    return fd;
}

Result<std::string> admin_call(const fs::path& socket_path, const std::string& request,
                               std::chrono::milliseconds timeout) {
    auto addr = address(socket_path);
    if (!addr) return addr.error();
    const std::string no_daemon = "no sparkctl serve answers on " + socket_path.string();
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return make_error(Errc::io, no_daemon + ": " + std::strerror(errno));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) {
        return make_error(Errc::io, no_daemon + " (" + std::strerror(errno) +
                                        "; start it with `sparkctl serve`)");
    }
    std::string line = request + "\n";
    if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
        return make_error(Errc::io, no_daemon + ": cannot send the request");
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string out;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) {
            return make_error(Errc::io, socket_path.string() + ": no answer within " +
                                            std::to_string(timeout.count() / 1000) + " s");
        }
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(left));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue;
        char buf[65536];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    if (out.empty()) return make_error(Errc::io, no_daemon + ": closed without an answer");
    return out;
}

}  // namespace sparkctl::serve
