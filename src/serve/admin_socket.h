// The admin API's transport: a Unix stream socket (mode 0600) carrying one request line and one
// response document per connection. Nothing administrative listens on TCP (issue 13). The
// daemon's side is non-blocking and driven by its loop; the client side is a blocking call with
// a deadline for the CLI clients.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "base/result.h"

namespace sparkctl::serve {

// $XDG_RUNTIME_DIR/sparkctl/admin.sock, or /tmp/sparkctl-UID/admin.sock without it.
std::filesystem::path default_socket_path();

// A pending request: answer once, now or later (`up` answers when the engine is ready). Either
// a socket connection, or an in-process sink (the gateway's ensure_ready, through the same
// load path as `up`).
class AdminReply {
  public:
    using Sink = std::function<void(const std::string& body)>;
    AdminReply() = default;
    explicit AdminReply(int fd) : fd_(fd) {}
    explicit AdminReply(Sink sink) : sink_(std::move(sink)) {}
    // Writes `body` (one JSON document and a newline) and closes, or hands it to the sink; later
    // calls do nothing.
    void send(const std::string& body);
    bool pending() const { return fd_ >= 0 || sink_ != nullptr; }

  private:
    int fd_ = -1;
    Sink sink_;
};

// Listens on the socket: binds (replacing a stale file; the caller holds the flock that proves
// no other daemon serves it), chmod 0600. Errors: io naming the path.
class AdminListener {
  public:
    using OnRequest = std::function<void(const std::string& line, AdminReply reply)>;
    static base::Result<std::unique_ptr<AdminListener>> listen(const std::filesystem::path& path,
                                                               OnRequest on_request);
    ~AdminListener();  // closes every connection and removes the socket file
    AdminListener(const AdminListener&) = delete;
    AdminListener& operator=(const AdminListener&) = delete;

    int fd() const { return fd_; }
    // Accepts waiting connections; returns their descriptors for the loop to watch.
    std::vector<int> accept_all();
    // Reads what a connection sent; calls OnRequest at the first newline (requests over 64 KiB
    // or a connection closed early are dropped). True while the connection still waits for
    // its request line.
    bool read_from(int fd);

  private:
    AdminListener() = default;
    int fd_ = -1;
    std::filesystem::path path_;
    OnRequest on_request_;
    std::map<int, std::string> partial_;
};

// Takes the lock file next to the socket (flock, held until the descriptor closes: released by
// the kernel when the daemon dies, so a kill -9 never leaves it taken). Errors: io with "another
// sparkctl serve is running on PATH" when held.
base::Result<int> lock_socket(const std::filesystem::path& socket_path);

// Client: sends `request` (one line) and returns the response document. Errors: io when no
// daemon answers (no socket, refused, closed without answer) or the deadline passes.
base::Result<std::string> admin_call(const std::filesystem::path& socket_path,
                                     const std::string& request, std::chrono::milliseconds timeout);

}  // namespace sparkctl::serve
