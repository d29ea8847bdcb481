#include "workspace/detail/fs.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "base/file.h"

namespace sparkctl::workspace::detail {

namespace fs = std::filesystem;
using base::Errc;
using base::make_error;
using base::Result;

namespace {

base::Error errno_error(const fs::path& path, const char* what, int err) {
    Errc code = (err == ENOENT || err == ENOTDIR) ? Errc::not_found : Errc::io;
    return make_error(code, path.string() + ": " + what + ": " + std::strerror(err));
}

Result<void> write_all(int fd, const std::string& contents, const fs::path& path) {
    std::size_t done = 0;
    while (done < contents.size()) {
        ssize_t put = ::write(fd, contents.data() + done, contents.size() - done);
        if (put < 0) {
            if (errno == EINTR) continue;
            return errno_error(path, "write failed", errno);
        }
        done += static_cast<std::size_t>(put);
    }
    if (::fsync(fd) != 0) return errno_error(path, "cannot flush", errno);
    return {};
}

}  // namespace

Result<FileLock> FileLock::acquire(const fs::path& path) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) {
        return make_error(
            Errc::io, path.parent_path().string() + ": cannot create directory: " + ec.message());
    }
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return errno_error(path, "cannot open lock file", errno);
    while (::flock(fd, LOCK_EX) != 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        return errno_error(path, "cannot lock", err);
    }
    return FileLock(fd);
}

FileLock::FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

FileLock& FileLock::operator=(FileLock&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = other.fd_;
        other.fd_ = -1;
    }
    return *this;
}

FileLock::~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

Result<bool> create_file_exclusive(const fs::path& path, const std::string& contents) {
    static std::atomic<unsigned> counter{0};
    fs::path tmp = path;
    tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return errno_error(tmp, "cannot create", errno);
    auto w = write_all(fd, contents, tmp);
    if (::close(fd) != 0 && w) w = errno_error(tmp, "cannot close", errno);
    if (!w) {
        ::unlink(tmp.c_str());
        return w.error();
    }
    if (::link(tmp.c_str(), path.c_str()) == 0) {
        ::unlink(tmp.c_str());
        return true;
    }
    int err = errno;
    ::unlink(tmp.c_str());
    if (err == EEXIST) return false;
    if (err != EPERM && err != EOPNOTSUPP && err != EXDEV) {
        return errno_error(path, "cannot create", err);
    }
    // No hard links here: an exclusive create, then the bytes.
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == EEXIST) return false;
        return errno_error(path, "cannot create", errno);
    }
    w = write_all(fd, contents, path);
    ::close(fd);
    if (!w) {
        ::unlink(path.c_str());
        return w.error();
    }
    return true;
}

Result<std::string> read_text_file(const fs::path& path) {
    return base::read_file(path, kMaxDocumentBytes);
}

}  // namespace sparkctl::workspace::detail
