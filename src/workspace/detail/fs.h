// Private to workspace: locking and no-clobber file creation.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "base/result.h"

namespace sparkctl::workspace::detail {

// An exclusive advisory lock (flock) on a lock file, held until destruction. Serialises
// read-modify-write of shared files across processes; the kernel drops it if a process dies.
class FileLock {
  public:
    // Creates the lock file (and its directory) when missing, then blocks until the lock is
    // held. Errors: io naming the lock file.
    static base::Result<FileLock> acquire(const std::filesystem::path& path);
    FileLock(FileLock&& other) noexcept;
    FileLock& operator=(FileLock&& other) noexcept;
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;
    ~FileLock();

  private:
    explicit FileLock(int fd) : fd_(fd) {}
    int fd_ = -1;
};

// Creates `path` holding `contents` only if nothing exists there: the bytes go to a temporary
// file beside it (fsync) which is then hard-linked into place, so the name appears atomically
// with its full contents and an existing file is never replaced. Where the filesystem has no
// hard links it falls back to open(O_CREAT|O_EXCL) and a write. Returns false when `path`
// already exists; io on other failures. Safe against concurrent callers in any process.
base::Result<bool> create_file_exclusive(const std::filesystem::path& path,
                                         const std::string& contents);

// Reads a text file of at most 16 MiB (workspace documents are small).
base::Result<std::string> read_text_file(const std::filesystem::path& path);

inline constexpr std::uint64_t kMaxDocumentBytes = 16u << 20;

}  // namespace sparkctl::workspace::detail
