// The one end-to-end harness: runs the real sparkctl binary (path in $SPARKCTL_BINARY) in a
// temporary HOME. Every XDG directory points inside it, the settings that would reach outside
// (SPARKCTL_CONFIG, SPARKCTL_HARDWARE, the workspace roots) are cleared, and git runs with a
// fixed identity and no user configuration (support/git_env.h).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/temp_dir.h"

namespace sparkctl::test {

struct RunResult {
    int exit_code = -1;
    std::string out;  // stdout
    std::string err;  // stderr
    // Parses stdout as one JSON document; fails the current test (and returns null) if it isn't.
    nlohmann::json json() const;
};

class Sandbox {
  public:
    Sandbox();
    Sandbox(const Sandbox&) = delete;
    Sandbox& operator=(const Sandbox&) = delete;

    const std::filesystem::path& home() const { return home_.path(); }
    // Environment added for every run; it wins over the sandbox's own settings.
    std::map<std::string, std::string> env;

    // Runs sparkctl in `cwd` (default: HOME). Thread-safe: concurrent calls are real processes
    // running at once.
    RunResult run(const std::vector<std::string>& args, const std::string& stdin_text = "",
                  const std::filesystem::path& cwd = {}) const;
    // Runs each argument list as its own process, all at once.
    std::vector<RunResult> run_all(const std::vector<std::vector<std::string>>& commands) const;
    // Writes a file under HOME (parents created) and returns its path.
    std::filesystem::path write(const std::string& relative, const std::string& contents) const;

  private:
    TempDir home_{"sparkctl_e2e"};
};

// The sparkctl binary under test.
std::filesystem::path sparkctl_binary();
// The repository root (for test data).
std::filesystem::path source_dir();

}  // namespace sparkctl::test
