// Runs the real sparkctl binary (path in $SPARKCTL_BINARY) in a temporary HOME, for end-to-end
// tests. Each Sandbox owns a fresh directory and removes it on destruction.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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
    ~Sandbox();
    Sandbox(const Sandbox&) = delete;
    Sandbox& operator=(const Sandbox&) = delete;

    const std::filesystem::path& home() const { return home_; }
    // Environment added for every run (HOME and XDG dirs point into the sandbox already).
    std::map<std::string, std::string> env;

    RunResult run(const std::vector<std::string>& args, const std::string& stdin_text = "") const;
    // Writes a file under the sandbox (parents created) and returns its path.
    std::filesystem::path write(const std::string& relative, const std::string& contents) const;

private:
    std::filesystem::path home_;
};

// The sparkctl binary under test.
std::filesystem::path sparkctl_binary();
// The repository root (for test data).
std::filesystem::path source_dir();

}  // namespace sparkctl::test
