// A `sparkctl simulate serve` child for end-to-end tests: its own process group and temp HOME,
// stderr read for the port line, killed (SIGKILL to the group) and reaped when destroyed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace sparkctl::test {

class Standin {
  public:
    // Starts `sparkctl simulate serve ARGS...`.
    explicit Standin(const std::vector<std::string>& args);
    ~Standin();
    Standin(const Standin&) = delete;
    Standin& operator=(const Standin&) = delete;

    // Reads stderr until the line naming the port (`marker` then the port); 0 when the process
    // ends first. Lines read are kept in log().
    std::uint16_t wait_port(const std::string& marker);
    // The exit status once the process ends (-1 after 20 s).
    int wait_exit();
    const std::string& log() const { return log_; }

  private:
    TempDir home_{"standin_e2e"};
    pid_t pid_ = -1;
    FILE* err_ = nullptr;
    std::string log_;
};

}  // namespace sparkctl::test
