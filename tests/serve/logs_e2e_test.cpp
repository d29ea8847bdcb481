// The stand-in engine's load log, parsed as serve's supervisor parses a real engine's: each
// deployment planned for --simulate (serve::plan_deployment), its argv run for real
// (`sparkctl simulate serve --as ENGINE -- ...`, own process group, port 0 on 127.0.0.1), its
// stderr read up to the ready line and fed to engines::parse_memory_log_line. The figures must be
// the plan's: a stand-in whose lines drift from the engine's format fails here.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "engines/logs.h"
#include "plan/inputs.h"
#include "serve/deployment.h"
#include "support/sandbox.h"
#include "support/temp_dir.h"

namespace sparkctl::serve {
namespace {

// Runs argv with stderr on a pipe until a line containing `until`; kills the process group.
std::string stderr_until(std::vector<std::string> argv, const std::string& home,
                         const std::string& until) {
    int fds[2];
    if (pipe(fds) != 0) return "";
    const pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        setenv("HOME", home.c_str(), 1);
        unsetenv("SPARKCTL_CONFIG");
        unsetenv("SPARKCTL_HARDWARE");
        std::vector<char*> args;
        for (std::string& s : argv) args.push_back(s.data());
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    close(fds[1]);
    FILE* err = fdopen(fds[0], "r");
    std::string log;
    char line[4096];
    while (err != nullptr && std::fgets(line, sizeof line, err) != nullptr) {
        log += line;
        if (std::string(line).find(until) != std::string::npos) break;
    }
    kill(-pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    if (err != nullptr) std::fclose(err);
    return log;
}

struct Case {
    std::string engine;
    bool has_compute;  // llama.cpp reports its compute buffer; vLLM and SGLang fold it in
};

class StandinLogs : public ::testing::TestWithParam<Case> {};

TEST_P(StandinLogs, ParseToThePlansFigures) {
    test::TempDir home("serve_logs_e2e");
    config::Sources src;
    src.file = home.write("config.toml", "hardware = \"dgx-spark\"\n");
    const std::string h = home.path().string();
    src.getenv = [h](const char* name) -> const char* {
        return std::string(name) == "HOME" ? h.c_str() : nullptr;
    };
    auto cfg = config::Config::load(src);
    ASSERT_TRUE(cfg.ok()) << cfg.error().message;

    DeploymentConfig d;
    d.id = "qwen3-1.7b";  // the served name: the stand-in prices the model it names
    d.model = "qwen3-1.7b";
    d.engine = GetParam().engine;
    // Port 0: the stand-in picks a free one; --speed 0: no simulated delays.
    auto spec = plan_deployment(
        d, LaunchContext{0, "key", true, test::sparkctl_binary().string(), ""}, *cfg);
    ASSERT_TRUE(spec.ok()) << spec.error().message;
    std::vector<std::string> argv = spec->argv;
    argv.insert(argv.begin() + 5, {"--speed", "0"});  // after `simulate serve --as ENGINE`
    const std::string log = stderr_until(argv, h, "ready on port");
    ASSERT_NE(log.find("ready on port"), std::string::npos) << log;

    auto e = engines::parse_engine(spec->engine);
    ASSERT_TRUE(e.ok());
    engines::MeasuredMemory m;
    std::size_t start = 0;
    int hits = 0;
    while (start < log.size()) {
        std::size_t end = log.find('\n', start);
        if (end == std::string::npos) end = log.size();
        hits +=
            engines::parse_memory_log_line(*e, std::string_view(log).substr(start, end - start), m)
                ? 1
                : 0;
        start = end + 1;
    }
    EXPECT_GE(hits, 2) << log;
    EXPECT_TRUE(m.loaded) << log;

    plan::PlanInputs in;
    in.model = d.model;
    in.engine = GetParam().engine;
    auto planned = plan::plan_from_inputs(*cfg, in);
    ASSERT_TRUE(planned.ok());
    const fit::MemoryBreakdown& mem = planned->plan.fit.estimate.memory;
    // The lines round to 0.01 GiB (SGLang), 0.01 MiB (llama.cpp) or 0.0001 GiB (vLLM weights).
    const double tolerance = 0.006 * double(1ull << 30);
    ASSERT_TRUE(m.weights_bytes.has_value()) << log;
    ASSERT_TRUE(m.kv_bytes.has_value()) << log;
    EXPECT_NEAR(double(*m.weights_bytes), double(mem.weights_bytes), tolerance) << log;
    EXPECT_NEAR(double(*m.kv_bytes), double(mem.kv_cache_bytes), tolerance) << log;
    if (GetParam().has_compute) {
        ASSERT_TRUE(m.compute_bytes.has_value()) << log;
        EXPECT_NEAR(double(*m.compute_bytes), double(mem.compute_bytes), tolerance) << log;
    }
}

INSTANTIATE_TEST_SUITE_P(Engines, StandinLogs,
                         ::testing::Values(Case{"llama.cpp", true}, Case{"vllm", false},
                                           Case{"sglang", false}),
                         [](const auto& p) {
                             return p.param.engine == "llama.cpp" ? std::string("llamacpp")
                                                                  : p.param.engine;
                         });

}  // namespace
}  // namespace sparkctl::serve
