#include "support/sandbox.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "base/process.h"
#include "support/git_env.h"

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
        ADD_FAILURE() << "stdout is not one JSON document (" << e.what() << "):\n"
                      << out << "\nstderr:\n"
                      << err;
        return nullptr;
    }
}

Sandbox::Sandbox() = default;

RunResult Sandbox::run(const std::vector<std::string>& args, const std::string& stdin_text,
                       const std::filesystem::path& cwd) const {
    std::vector<std::string> argv{sparkctl_binary().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    base::RunOptions o;
    o.cwd = cwd.empty() ? home() : cwd;
    o.timeout = std::chrono::seconds(120);
    o.stdin_text = stdin_text;
    std::map<std::string, std::string> vars = {
        {"HOME", home().string()},
        {"XDG_CONFIG_HOME", (home() / ".config").string()},
        {"XDG_DATA_HOME", (home() / ".local/share").string()},
        {"XDG_STATE_HOME", (home() / ".local/state").string()},
        {"XDG_CACHE_HOME", (home() / ".cache").string()},
        {"SPARKCTL_CONFIG", ""},
        {"SPARKCTL_HARDWARE", ""},
        {"SPARKCTL_GITHUB_ROOT", ""},
        {"SPARKCTL_CLAUDE_HOME", ""},
        {"SPARKCTL_DATA_DIR", ""}};
    for (const auto& [k, v] : git_test_env()) vars[k] = v;
    for (const auto& [k, v] : env) vars[k] = v;  // the test's own settings win
    o.env_set.assign(vars.begin(), vars.end());
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

std::vector<RunResult> Sandbox::run_all(
    const std::vector<std::vector<std::string>>& commands) const {
    std::vector<RunResult> results(commands.size());
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < commands.size(); ++i) {
        threads.emplace_back([&, i] { results[i] = run(commands[i]); });
    }
    for (auto& t : threads) t.join();
    return results;
}

std::filesystem::path Sandbox::write(const std::string& relative,
                                     const std::string& contents) const {
    return home_.write(relative, contents);
}

}  // namespace sparkctl::test
