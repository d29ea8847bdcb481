// The seam between `sparkctl doctor` and the machine it examines: files under /proc and /sys,
// directory listings, programs (nvidia-smi, docker, the engines), the environment, free disk
// space and free TCP ports. The real machine reads "/" and PATH; a rooted one (tests, through
// the test-only SPARKCTL_DOCTOR_ROOT) reads ROOT/proc, ROOT/sys and runs ROOT/bin/NAME for a
// bare program name, so every check can run on outputs captured from other machines.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "hw/detect.h"

namespace sparkctl::doctor {

// Implementations are usable from one thread at a time.
class Machine : public hw::System {
  public:
    // The names in a directory ("/sys/class/infiniband"), sorted. Errors: not_found when it does
    // not exist, io otherwise.
    virtual base::Result<std::vector<std::string>> list_dir(const std::filesystem::path& path) = 0;
    // nullopt when unset or empty.
    virtual std::optional<std::string> getenv(const std::string& name) = 0;
    // Bytes available to an unprivileged user on the filesystem holding `path` (statvfs
    // f_bavail x f_frsize). Errors: io naming the path.
    virtual base::Result<std::uint64_t> disk_free_bytes(const std::filesystem::path& path) = 0;
    // True when a TCP listener could bind 127.0.0.1:port now (SO_REUSEADDR, as servers bind).
    virtual bool port_free(int port) = 0;
};

// `root` "/" is this machine. Any other root is a captured tree: absolute paths are read under
// it and a program named without a '/' runs as ROOT/bin/NAME (not_found when absent); the
// environment, disk space and ports stay this process's own.
std::unique_ptr<Machine> make_machine(const std::filesystem::path& root);

}  // namespace sparkctl::doctor
