// Reading files: whole small files with a size cap, and byte ranges of large ones (pread),
// so a 60 GB model is inspected by reading only its header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "base/result.h"

namespace sparkctl::base {

// Reads a whole regular file of at most max_bytes. Errors name the path: not_found, io, or
// bad_input when the file is larger than the cap or is not a regular file.
Result<std::string> read_file(const std::filesystem::path& path, std::uint64_t max_bytes);

// Writes `contents` to `path` atomically: a temporary file beside it, fsync, rename.
Result<void> write_file_atomic(const std::filesystem::path& path, const std::string& contents);

// A read-only open file for random access. Not thread-safe for concurrent moves; reads are
// positional (pread), so concurrent read_at calls on one object are safe.
class RandomAccessFile {
public:
    static Result<RandomAccessFile> open(const std::filesystem::path& path);
    RandomAccessFile(RandomAccessFile&& other) noexcept;
    RandomAccessFile& operator=(RandomAccessFile&& other) noexcept;
    RandomAccessFile(const RandomAccessFile&) = delete;
    RandomAccessFile& operator=(const RandomAccessFile&) = delete;
    ~RandomAccessFile();

    std::uint64_t size() const { return size_; }
    const std::filesystem::path& path() const { return path_; }

    // Reads exactly n bytes at offset into out (resized). bad_input when [offset, offset+n)
    // is not inside the file (overflow-checked); io on a read error.
    Result<void> read_at(std::uint64_t offset, std::size_t n, std::string& out) const;

    // Reads up to n bytes at offset (fewer at end of file; none past it). For files whose size
    // is not known in advance (/proc).
    Result<void> read_some_at(std::uint64_t offset, std::size_t n, std::string& out) const;

private:
    RandomAccessFile(int fd, std::uint64_t size, std::filesystem::path path);
    int fd_ = -1;
    std::uint64_t size_ = 0;
    std::filesystem::path path_;
};

}  // namespace sparkctl::base
