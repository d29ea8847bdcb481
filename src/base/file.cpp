#include "base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sparkctl::base {

namespace {

Error errno_error(const std::filesystem::path& path, const char* what, int err) {
    Errc code = (err == ENOENT || err == ENOTDIR) ? Errc::not_found : Errc::io;
    return make_error(code, path.string() + ": " + what + ": " + std::strerror(err));
}

}  // namespace

RandomAccessFile::RandomAccessFile(int fd, std::uint64_t size, std::filesystem::path path)
    : fd_(fd), size_(size), path_(std::move(path)) {}

RandomAccessFile::RandomAccessFile(RandomAccessFile&& other) noexcept
    : fd_(other.fd_), size_(other.size_), path_(std::move(other.path_)) {
    other.fd_ = -1;
}

RandomAccessFile& RandomAccessFile::operator=(RandomAccessFile&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = other.fd_;
        size_ = other.size_;
        path_ = std::move(other.path_);
        other.fd_ = -1;
    }
    return *this;
}

RandomAccessFile::~RandomAccessFile() {
    if (fd_ >= 0) ::close(fd_);
}

Result<RandomAccessFile> RandomAccessFile::open(const std::filesystem::path& path) {
    // O_NONBLOCK: opening a FIFO must not block; regular files ignore the flag.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return errno_error(path, "cannot open", errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        int err = errno;
        ::close(fd);
        return errno_error(path, "cannot stat", err);
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return make_error(Errc::bad_input, path.string() + ": not a regular file");
    }
    return RandomAccessFile(fd, static_cast<std::uint64_t>(st.st_size), path);
}

Result<void> RandomAccessFile::read_some_at(std::uint64_t offset, std::size_t n,
                                            std::string& out) const {
    out.resize(n);
    for (;;) {
        ssize_t got = ::pread(fd_, out.data(), n, static_cast<off_t>(offset));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return errno_error(path_, "read failed", errno);
        out.resize(static_cast<std::size_t>(got));
        return {};
    }
}

Result<void> RandomAccessFile::read_at(std::uint64_t offset, std::size_t n, std::string& out) const {
    if (offset > size_ || n > size_ - offset) {
        return make_error(Errc::bad_input,
                          path_.string() + ": truncated: needs " + std::to_string(n) +
                              " bytes at offset " + std::to_string(offset) + ", file has " +
                              std::to_string(size_));
    }
    out.resize(n);
    std::size_t done = 0;
    while (done < n) {
        ssize_t got = ::pread(fd_, out.data() + done, n - done, static_cast<off_t>(offset + done));
        if (got < 0) {
            if (errno == EINTR) continue;
            return errno_error(path_, "read failed", errno);
        }
        if (got == 0) {
            return make_error(Errc::io, path_.string() + ": file shrank while reading");
        }
        done += static_cast<std::size_t>(got);
    }
    return {};
}

Result<std::string> read_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
    auto file = RandomAccessFile::open(path);
    if (!file) return file.error();
    auto too_big = [&](std::uint64_t size) {
        return make_error(Errc::bad_input, path.string() + ": file is " + std::to_string(size) +
                                               " bytes, more than the limit of " +
                                               std::to_string(max_bytes));
    };
    if (file->size() > max_bytes) return too_big(file->size());
    // Read to end of file rather than st_size bytes: /proc files report size 0.
    std::string out;
    std::string chunk;
    for (;;) {
        std::uint64_t want = std::min<std::uint64_t>(1u << 16, max_bytes + 1 - out.size());
        auto r = file->read_some_at(out.size(), static_cast<std::size_t>(want), chunk);
        if (!r) return r.error();
        if (chunk.empty()) break;
        out += chunk;
        if (out.size() > max_bytes) return too_big(out.size());
    }
    return out;
}

Result<void> write_file_atomic(const std::filesystem::path& path, const std::string& contents) {
    std::filesystem::path tmp = path;
    tmp += ".tmp." + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return errno_error(tmp, "cannot create", errno);
    std::size_t done = 0;
    while (done < contents.size()) {
        ssize_t put = ::write(fd, contents.data() + done, contents.size() - done);
        if (put < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            return errno_error(tmp, "write failed", err);
        }
        done += static_cast<std::size_t>(put);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return errno_error(tmp, "cannot flush", err);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return errno_error(path, "cannot rename into place", err);
    }
    return {};
}

}  // namespace sparkctl::base
