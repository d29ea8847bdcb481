// Runs git in tests with a fixed identity and no user or system configuration.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>

#include <filesystem>
#include <string>
#include <vector>

#include "base/file.h"
#include "base/process.h"

namespace sparkctl::test {

inline std::vector<std::pair<std::string, std::string>> git_test_env() {
    return {{"GIT_CONFIG_NOSYSTEM", "1"},
            {"GIT_CONFIG_GLOBAL", "/dev/null"},
            {"GIT_AUTHOR_NAME", "Test"},
            {"GIT_AUTHOR_EMAIL", "test@example.com"},
            {"GIT_COMMITTER_NAME", "Test"},
            {"GIT_COMMITTER_EMAIL", "test@example.com"},
            {"GIT_AUTHOR_DATE", "2024-02-03T04:05:06Z"},
            {"GIT_COMMITTER_DATE", "2024-02-03T04:05:06Z"}};
}

// Runs `git -C dir args...`; fails the test on a non-zero exit.
inline std::string git(const std::filesystem::path& dir, std::vector<std::string> args) {
    std::vector<std::string> argv = {"git", "-C", dir.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    base::RunOptions o;
    o.env_set = git_test_env();
    auto r = base::run_process(argv, o);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    if (!r.ok()) return "";
    EXPECT_EQ(r->exit_code, 0) << "git " << args[0] << ": " << r->stderr_text;
    return r->stdout_text;
}

// A bare repository at `bare` with one commit holding `files` (relative path -> contents).
inline void make_bare_repo(const std::filesystem::path& scratch, const std::filesystem::path& bare,
                           const std::vector<std::pair<std::string, std::string>>& files) {
    std::filesystem::create_directories(scratch);
    git(scratch, {"init", "--quiet"});
    for (const auto& [rel, text] : files) {
        auto p = scratch / rel;
        std::filesystem::create_directories(p.parent_path());
        EXPECT_TRUE(base::write_file_atomic(p, text).ok());
    }
    git(scratch, {"add", "-A"});
    git(scratch, {"commit", "--quiet", "-m", "initial"});
    git(scratch.parent_path(), {"clone", "--quiet", "--bare", scratch.string(), bare.string()});
}

// Sets the git environment for the whole test process (children inherit it).
inline void use_git_test_env() {
    for (const auto& [k, v] : git_test_env()) ::setenv(k.c_str(), v.c_str(), 1);
}

}  // namespace sparkctl::test
