// Running external programs (git, nvidia-smi, engines) as real child processes.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace sparkctl::base {

struct RunOptions {
    std::optional<std::filesystem::path> cwd;
    std::vector<std::pair<std::string, std::string>> env_set;  // added to the inherited env
    std::optional<std::string> stdin_text;                     // nullopt: stdin is /dev/null
    std::chrono::milliseconds timeout{0};                      // 0: no limit
    std::size_t max_output_bytes = 16u << 20;                  // per stream; the rest is dropped
};

struct ProcessResult {
    int exit_code = -1;  // -1 when killed by a signal
    int signal = 0;      // the terminating signal, 0 if it exited
    bool timed_out = false;
    std::string stdout_text;
    std::string stderr_text;
};

// Runs argv[0] (searched in PATH) in its own process group, waits for it, and captures its
// output. On timeout the group gets SIGTERM, then SIGKILL after 2 s. Errors: not_found when
// the program does not exist, io when it cannot be started. A non-zero exit is not an error:
// inspect exit_code. Thread-safe.
Result<ProcessResult> run_process(const std::vector<std::string>& argv,
                                  const RunOptions& options = {});

}  // namespace sparkctl::base
