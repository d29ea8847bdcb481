#include "e2e/run_sparkctl.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>

#include "base/file.h"
#include "base/process.h"

namespace sparkctl::test {

std::filesystem::path sparkctl_binary() {
    const char* p = std::getenv("SPARKCTL_BINARY");
    return p != nullptr ? p : SPARKCTL_TEST_BINARY;
}

std::filesystem::path source_dir() {
    const char* p = std::getenv("SPARKCTL_SOURCE_DIR");
    return p != nullptr ? p : SPARKCTL_TEST_SOURCE_DIR;
}

nlohmann::json RunResult::json() const {
    try {
        return nlohmann::json::parse(out);
    } catch (const nlohmann::json::exception& e) {
        ADD_FAILURE() << "stdout is not one JSON document (" << e.what() << "):\n" << out;
        return nullptr;
    }
}

Sandbox::Sandbox() {
    static std::atomic<int> counter{0};
    home_ = std::filesystem::temp_directory_path() /
            ("sparkctl_e2e_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(home_);
    std::filesystem::create_directories(home_);
}

Sandbox::~Sandbox() {
    std::error_code ec;
    std::filesystem::remove_all(home_, ec);
}

RunResult Sandbox::run(const std::vector<std::string>& args, const std::string& stdin_text) const {
    std::vector<std::string> argv{sparkctl_binary().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    base::RunOptions o;
    o.cwd = home_;
    o.timeout = std::chrono::seconds(60);
    o.stdin_text = stdin_text;
    o.env_set = {{"HOME", home_.string()},
                 {"XDG_CONFIG_HOME", (home_ / ".config").string()},
                 {"XDG_DATA_HOME", (home_ / ".local/share").string()},
                 {"XDG_STATE_HOME", (home_ / ".local/state").string()},
                 {"XDG_CACHE_HOME", (home_ / ".cache").string()},
                 {"SPARKCTL_CONFIG", ""},
                 {"SPARKCTL_HARDWARE", ""}};
    for (const auto& [k, v] : env) o.env_set.emplace_back(k, v);
    auto r = base::run_process(argv, o);
    RunResult out;
    if (!r.ok()) {
        ADD_FAILURE() << "cannot run " << argv[0] << ": " << r.error().message;
        return out;
    }
    EXPECT_FALSE(r->timed_out) << "sparkctl timed out";
    out.exit_code = r->signal != 0 ? 128 + r->signal : r->exit_code;
    out.out = r->stdout_text;
    out.err = r->stderr_text;
    return out;
}

std::filesystem::path Sandbox::write(const std::string& relative, const std::string& contents) const {
    auto p = home_ / relative;
    std::filesystem::create_directories(p.parent_path());
    EXPECT_TRUE(base::write_file_atomic(p, contents).ok());
    return p;
}

}  // namespace sparkctl::test
