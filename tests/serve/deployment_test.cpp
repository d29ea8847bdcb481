// Deployments: [[models]] typed and validated, planned through plan's path into argv/env and a
// reservation; extra_args checks; the --simulate swap; the container form.
#include "serve/deployment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "plan/inputs.h"
#include "serve/deployment_json.h"
#include "support/temp_dir.h"

namespace sparkctl::serve {
namespace {

using Argv = std::vector<std::string>;

class DeploymentTest : public ::testing::Test {
  protected:
    // Loads `toml` as the config file, in an environment with only HOME set.
    base::Result<config::Config> load(const std::string& toml) {
        const auto path = dir_.write("config.toml", toml);
        config::Sources s;
        s.file = path;
        s.getenv = [this](const char* name) -> const char* {
            auto it = env_.find(name);
            return it == env_.end() ? nullptr : it->second.c_str();
        };
        return config::Config::load(s);
    }
    config::Config must_load(const std::string& toml) {
        auto cfg = load(toml);
        EXPECT_TRUE(cfg.ok()) << (cfg.ok() ? "" : cfg.error().message);
        return cfg.ok() ? std::move(*cfg) : *load("");
    }
    std::string read_error(const std::string& toml) {
        auto cfg = load(toml);
        if (!cfg) return cfg.error().message;
        auto d = read_deployments(*cfg);
        return d.ok() ? std::string("(no error)") : d.error().message;
    }
    DeploymentSpec must_plan(const DeploymentConfig& d, const config::Config& cfg,
                             bool simulate = false) {
        auto s =
            plan_deployment(d, LaunchContext{41234, "k3y", simulate, "/opt/sparkctl", ""}, cfg);
        EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
        return s.ok() ? std::move(*s) : DeploymentSpec{};
    }

    test::TempDir dir_;
    std::map<std::string, std::string> env_ = {{"HOME", dir_.path().string()}};
};

// The value after `flag` in argv, or "" when absent.
std::string value_of(const Argv& argv, const std::string& flag) {
    auto it = std::find(argv.begin(), argv.end(), flag);
    return it == argv.end() || it + 1 == argv.end() ? "" : *(it + 1);
}
bool has(const Argv& argv, const std::string& s) {
    return std::find(argv.begin(), argv.end(), s) != argv.end();
}
bool has_env(const DeploymentSpec& s, const std::string& k, const std::string& v) {
    return std::find(s.env.begin(), s.env.end(), std::make_pair(k, v)) != s.env.end();
}

TEST_F(DeploymentTest, ReadsEveryKey) {
    auto cfg = must_load(R"(
[[models]]
id = "coder"
model = "qwen3-coder-30b-a3b"
aliases = ["qwen-coder", "default"]
use = "agents"
users = 4
context = 65536
engine = "vllm"
quant = "fp8"
engine_version = "ngc-26.05"
prefer = "fit"
kv_cache_dtype = "fp8"
overrides = ["R-OPS-2"]
budget = "100GiB"
kind = "container"
extra_args = ["--enable-log-requests"]
simulate_args = ["--slow-start", "1"]
ttl_s = 600.5
bench = true
max_in_flight = 8

[[models]]
id = "small"
model = "qwen3-1.7b"
pin = true
)");
    auto ds = read_deployments(cfg);
    ASSERT_TRUE(ds.ok()) << ds.error().message;
    ASSERT_EQ(ds->size(), 2u);
    const DeploymentConfig& a = (*ds)[0];
    EXPECT_EQ(a.id, "coder");
    EXPECT_EQ(a.model, "qwen3-coder-30b-a3b");
    EXPECT_EQ(a.aliases, (Argv{"qwen-coder", "default"}));
    EXPECT_EQ(a.use, "agents");
    EXPECT_EQ(a.users, 4);
    EXPECT_EQ(a.context, 65536);
    EXPECT_EQ(a.engine, "vllm");
    EXPECT_EQ(a.quant, "fp8");
    EXPECT_EQ(a.engine_version, "ngc-26.05");
    EXPECT_EQ(a.prefer, "fit");
    EXPECT_EQ(a.kv_cache_dtype, "fp8");
    EXPECT_EQ(a.overrides, (Argv{"R-OPS-2"}));
    EXPECT_EQ(a.budget, "100GiB");
    EXPECT_EQ(a.kind, Kind::container);
    EXPECT_EQ(a.extra_args, (Argv{"--enable-log-requests"}));
    EXPECT_EQ(a.simulate_args, (Argv{"--slow-start", "1"}));
    EXPECT_FALSE(a.pin);
    EXPECT_DOUBLE_EQ(a.ttl_s.value_or(0), 600.5);
    EXPECT_TRUE(a.bench);
    EXPECT_EQ(a.max_in_flight, 8);
    const DeploymentConfig& b = (*ds)[1];
    EXPECT_EQ(b.use, "chat");
    EXPECT_EQ(b.users, 1);
    EXPECT_FALSE(b.context.has_value());
    EXPECT_EQ(b.kind, Kind::native);
    EXPECT_TRUE(b.pin);
    EXPECT_EQ(b.max_in_flight, 0);  // no limit
}

TEST_F(DeploymentTest, NoModelsIsEmpty) {
    auto ds = read_deployments(must_load("hardware = \"dgx-spark\"\n"));
    ASSERT_TRUE(ds.ok());
    EXPECT_TRUE(ds->empty());
}

TEST_F(DeploymentTest, ErrorsNameTheEntryAndKey) {
    const std::string file = (dir_.path() / "config.toml").string();
    struct Case {
        std::string toml, expected;
    };
    const std::vector<Case> cases = {
        {"[[models]]\nmodel = \"qwen3-8b\"\n", "[[models]] entry 1: key 'id' is missing"},
        {"[[models]]\nid = \"a\"\n", "[[models]] entry 1: key 'model' is missing"},
        {"[[models]]\nid = \"a\"\nmodel = \"m\"\nusers = \"four\"\n",
         "entry 1: key 'users': expected an integer, got a string"},
        {"[[models]]\nid = \"a\"\nmodel = \"m\"\nusers = 0\n",
         "entry 1: key 'users': 0 is not in 1..1048576"},
        {"[[models]]\nid = \"a\"\nmodel = \"m\"\npin = 1\n",
         "key 'pin': expected a boolean, got an integer"},
        {"[[models]]\nid = \"a\"\nmodel = \"m\"\nkind = \"vm\"\n",
         "key 'kind': 'vm' is not native or container"},
        {"[[models]]\nid = \"a\"\nmodel = \"m\"\nport = 80\n", "unknown key 'port'"},
        {"[[models]]\nid = \"a b\"\nmodel = \"m\"\n",
         "(id 'a b'): key 'id': 'a b' is not a model name"},
        {"[[models]]\nid = \"a\"\nmodel = \"m\"\ncontext = -5\n",
         "key 'context': -5 is not at least 1"},
        {"[[models]]\nid = \"a\"\nmodel = \"m\"\nttl_s = 0\n", "key 'ttl_s': must be a positive"},
        {"[[models]]\nid = \"a\"\nmodel = \"m\"\nuse = \"gaming\"\n", "key 'use'"},
        {"[[models]]\nid = \"a\"\nmodel = \"m\"\nengine = \"ollama\"\n", "key 'engine'"},
        {"[[models]]\nid = \"a\"\nmodel = \"m\"\nengine = \"vllm\"\nengine_version = \"9.9\"\n",
         "key 'engine_version'"},
        {"[[models]]\nid = \"a\"\nmodel = \"m\"\npin = true\nttl_s = 5\n", "a pinned deployment"},
        {"[[models]]\nid = \"a\"\nmodel = \"m\"\nprefer = \"cheap\"\n", "key 'prefer'"},
        {"[[models]]\nid = \"a\"\nmodel = \"m\"\nbudget = \"lots\"\n",
         "key 'budget': 'lots' is not a byte count"},
        {"[[models]]\nid = \"a\"\nmodel = \"m\"\noverrides = \"R-OPS-2\"\n",
         "key 'overrides': expected an array"},
        {"[[models]]\nid = \"a\"\nmodel = \"m\"\nextra_args = [[\"x\"]]\n",
         "entry 1: key 'extra_args': expected an array of scalars"},
        {"[[models]]\nid = \"a\"\nmodel = \"m\"\n[[models]]\nid = \"b\"\nmodel = \"m\"\n"
         "aliases = [\"a\"]\n",
         "[[models]] entry 2 (id 'b'): name 'a' is already used by"},
        {"models = 3\n", "'models': expected an array of tables ([[models]])"},
        {"[[models]]\nid = \"a\"\nmodel = \"m\"\naliases = [\"x\"]\n[[models]]\nid = \"x\"\n"
         "model = \"m\"\n",
         "[[models]] entry 2 (id 'x'): name 'x' is already used by"},
        {"[[models]]\nid = \"a\"\nmodel = \"m\"\naliases = [\"x\", \"x\"]\n",
         "name 'x' is already used by this entry"},
        {"[[models]]\nid = \"a\"\nmodel = \"m\"\naliases = [\"a\"]\n",
         "name 'a' is already used by"},
        {"[[models]]\nid = \"a\"\nmodel = \"m\"\nmax_in_flight = -1\n",
         "key 'max_in_flight': -1 is not in 0..1048576 (0: no limit)"},
        {"[[models]]\nid = \"a\"\nmodel = \"m\"\nmax_in_flight = 1.5\n",
         "key 'max_in_flight': expected an integer, got a number"},
    };
    for (const Case& c : cases) {
        const std::string e = read_error(c.toml);
        EXPECT_NE(e.find(c.expected), std::string::npos) << c.toml << "\n-> " << e;
        EXPECT_EQ(e.rfind(file, 0), 0u) << "names the file: " << e;
    }
}

TEST_F(DeploymentTest, NativeLlamaCppArgv) {
    auto cfg = must_load("llama_server = \"/opt/llama/llama-server\"\n");
    DeploymentConfig d;
    d.id = "chat-small";
    d.model = "qwen3-1.7b";
    d.engine = "llama.cpp";
    d.extra_args = {"--temp", "0.7"};
    const DeploymentSpec s = must_plan(d, cfg);
    ASSERT_FALSE(s.argv.empty());
    EXPECT_EQ(s.engine, "llama.cpp");
    EXPECT_EQ(s.argv[0], "/opt/llama/llama-server");
    EXPECT_EQ(value_of(s.argv, "--port"), "41234");
    EXPECT_EQ(value_of(s.argv, "--host"), "127.0.0.1");
    EXPECT_EQ(value_of(s.argv, "--api-key"), "k3y");
    EXPECT_EQ(value_of(s.argv, "-a"), "chat-small");
    EXPECT_TRUE(has(s.argv, "--offline"));  // HF model, downloads not allowed
    EXPECT_EQ(value_of(s.argv, "--temp"), "0.7");
    EXPECT_TRUE(has_env(s, "HF_HUB_OFFLINE", "1"));
    EXPECT_FALSE(s.simulated);
    EXPECT_GT(s.weights_bytes, 0u);
    // The host prompt cache (--cache-ram default 8192 MiB) counts in the reservation, once: the
    // plan's total has it already.
    EXPECT_GE(s.planned_bytes, s.weights_bytes + (8192ull << 20));
    plan::PlanInputs in;
    in.model = d.model;
    in.engine = "llama.cpp";
    auto p = plan::plan_from_inputs(cfg, in);
    ASSERT_TRUE(p.ok()) << p.error().message;
    const auto& mem = p->plan.fit.estimate.memory;
    EXPECT_EQ(mem.host_prompt_cache_bytes, 8192ull << 20);
    EXPECT_EQ(s.planned_bytes, std::max(mem.total_bytes, mem.peak_bytes));
}

TEST_F(DeploymentTest, BenchTakesPlansBenchFlagsAndNoHostCache) {
    auto cfg = must_load("");
    DeploymentConfig d;
    d.id = "b";
    d.model = "qwen3-1.7b";
    d.engine = "llama.cpp";
    d.bench = true;
    const DeploymentSpec s = must_plan(d, cfg);
    EXPECT_EQ(value_of(s.argv, "--cache-ram"), "0");
    EXPECT_TRUE(has(s.argv, "--metrics"));
    EXPECT_LT(s.planned_bytes, s.weights_bytes + (8192ull << 20));
}

TEST_F(DeploymentTest, AllowDownloadDropsOffline) {
    auto cfg = must_load("allow_download = \"true\"\n");
    DeploymentConfig d;
    d.id = "x";
    d.model = "qwen3-1.7b";
    d.engine = "llama.cpp";
    const DeploymentSpec s = must_plan(d, cfg);
    EXPECT_FALSE(has(s.argv, "--offline"));
    EXPECT_FALSE(has_env(s, "HF_HUB_OFFLINE", "1"));
}

TEST_F(DeploymentTest, NativeVllmAndSglangArgv) {
    auto cfg = must_load("vllm = \"/venv/bin/vllm\"\nsglang_python = \"/sg/bin/python\"\n");
    DeploymentConfig d;
    d.id = "q8";
    d.model = "qwen3-8b";
    d.engine = "vllm";
    DeploymentSpec s = must_plan(d, cfg);
    ASSERT_GE(s.argv.size(), 3u);
    EXPECT_EQ(s.argv[0], "/venv/bin/vllm");
    EXPECT_EQ(s.argv[1], "serve");
    EXPECT_EQ(value_of(s.argv, "--served-model-name"), "q8");
    EXPECT_EQ(value_of(s.argv, "--port"), "41234");
    EXPECT_EQ(value_of(s.argv, "--api-key"), "k3y");
    EXPECT_FALSE(has(s.argv, "--offline"));
    EXPECT_TRUE(has_env(s, "HF_HUB_OFFLINE", "1"));
    EXPECT_GE(s.planned_bytes, s.weights_bytes);

    d.engine = "sglang";
    s = must_plan(d, cfg);
    ASSERT_GE(s.argv.size(), 3u);
    EXPECT_EQ(s.argv[0], "/sg/bin/python");
    EXPECT_EQ((Argv{s.argv[1], s.argv[2]}), (Argv{"-m", "sglang.launch_server"}));
    EXPECT_EQ(value_of(s.argv, "--served-model-name"), "q8");
    EXPECT_EQ(value_of(s.argv, "--api-key"), "k3y");
}

TEST_F(DeploymentTest, SimulateSwapsTheExecutable) {
    auto cfg = must_load("");
    DeploymentConfig d;
    d.id = "q8";
    d.model = "qwen3-8b";
    d.engine = "vllm";
    d.simulate_args = {"--slow-start", "2"};
    const DeploymentSpec real = must_plan(d, cfg);
    const DeploymentSpec s = must_plan(d, cfg, true);
    EXPECT_TRUE(s.simulated);
    Argv expected = {"/opt/sparkctl", "simulate",     "serve", "--as",
                     "vllm",          "--slow-start", "2",     "--"};
    expected.insert(expected.end(), real.argv.begin() + 1, real.argv.end());
    EXPECT_EQ(s.argv, expected);
    EXPECT_EQ(s.planned_bytes, real.planned_bytes);
}

TEST_F(DeploymentTest, ContainerRendersDockerRun) {
    auto cfg = must_load(
        "docker = \"/usr/bin/docker\"\nhf_cache = \"/data/hf\"\n[images]\n\"ngc-26.05\" = "
        "\"registry.local/vllm:pinned\"\n");
    DeploymentConfig d;
    d.id = "q8";
    d.model = "qwen3-8b";
    d.engine = "vllm";
    d.engine_version = "ngc-26.05";
    d.kind = Kind::container;
    const DeploymentSpec s = must_plan(d, cfg);
    ASSERT_GE(s.argv.size(), 3u);
    EXPECT_EQ((Argv{s.argv[0], s.argv[1], s.argv[2]}), (Argv{"/usr/bin/docker", "run", "-d"}));
    EXPECT_EQ(value_of(s.argv, "--label"), "sparkctl.deployment=q8");
    EXPECT_EQ(value_of(s.argv, "--name"), "sparkctl-q8");
    EXPECT_EQ(s.container_name, "sparkctl-q8");
    EXPECT_FALSE(has(s.argv, "--rm"));  // serve removes it, after reading its exit code
    EXPECT_EQ(s.docker, "/usr/bin/docker");
    EXPECT_EQ(value_of(s.argv, "--gpus"), "all");
    EXPECT_TRUE(has(s.argv, "--ipc=host"));
    EXPECT_EQ(value_of(s.argv, "-p"), "127.0.0.1:41234:41234");
    EXPECT_TRUE(has(s.argv, "/data/hf:/root/.cache/huggingface"));
    EXPECT_TRUE(has(s.argv, "HF_TOKEN"));
    EXPECT_TRUE(has(s.argv, "HF_HUB_OFFLINE=1"));
    EXPECT_TRUE(has(s.argv, "registry.local/vllm:pinned"));
    EXPECT_EQ(value_of(s.argv, "--host"), "0.0.0.0");  // inside; published on the loopback
    EXPECT_EQ(value_of(s.argv, "--port"), "41234");
    EXPECT_EQ(value_of(s.argv, "--api-key"), "k3y");
}

TEST_F(DeploymentTest, ContainerWithoutImageIsRefused) {
    auto cfg = must_load("");
    DeploymentConfig d;
    d.id = "x";
    d.model = "qwen3-1.7b";
    d.engine = "llama.cpp";
    d.kind = Kind::container;
    auto s = plan_deployment(d, LaunchContext{1, "k", false, "s", ""}, cfg);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, base::Errc::bad_input);
    EXPECT_NE(s.error().message.find("no official container image"), std::string::npos);
}

TEST_F(DeploymentTest, DoesNotFitCarriesExit3) {
    auto cfg = must_load("");
    DeploymentConfig d;
    d.id = "big";
    d.model = "deepseek-v3";
    auto s = plan_deployment(d, LaunchContext{1, "k", false, "s", ""}, cfg);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, base::Errc::does_not_fit) << s.error().message;
    EXPECT_NE(s.error().message.find("deployment 'big': does not fit: needs"), std::string::npos)
        << s.error().message;
}

TEST_F(DeploymentTest, ClusterPlansAreRefused) {
    auto cfg = must_load("[cluster]\nhosts = [\"spark-a\", \"spark-b\"]\n");
    DeploymentConfig d;
    d.id = "q";
    d.model = "qwen3-8b";
    d.engine = "vllm";
    auto s = plan_deployment(d, LaunchContext{1, "k", false, "s", ""}, cfg);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, base::Errc::bad_input);
    EXPECT_NE(s.error().message.find("cluster deployments are refused"), std::string::npos)
        << s.error().message;
}

TEST_F(DeploymentTest, ExtraArgsChecks) {
    using engines::Engine;
    EXPECT_TRUE(check_extra_args(Engine::vllm, "ngc-26.05", {"--enable-log-requests"}).ok());
    EXPECT_TRUE(check_extra_args(Engine::llama_cpp, "b6845", {"--temp", "0.7", "-v"}).ok());
    struct Case {
        Engine e;
        std::string version;
        Argv args;
        std::string expected;
    };
    const std::vector<Case> cases = {
        {Engine::llama_cpp, "b6845", {"-c", "8192"}, "-c is refused: sizes the KV cache"},
        {Engine::llama_cpp, "b6845", {"--parallel=4"}, "--parallel is refused"},
        {Engine::llama_cpp, "b6845", {"-ctk", "q4_0"}, "-ctk is refused: KV cache type"},
        {Engine::llama_cpp, "b6845", {"--port", "1"}, "--port is refused: set by serve"},
        {Engine::vllm, "ngc-26.05", {"--gpu-memory-utilization", "0.9"}, "R-OPS-1"},
        {Engine::vllm, "ngc-26.05", {"--max-model-len", "4096"}, "use the deployment's `context`"},
        {Engine::vllm, "ngc-26.05", {"--kv-cache-dtype=fp8"}, "--kv-cache-dtype is refused"},
        {Engine::vllm, "ngc-26.05", {"--tensor-parallel-size", "2"}, "serve runs one Spark"},
        {Engine::sglang, "latest-cu130", {"--mem-fraction-static", "0.5"}, "is refused"},
        {Engine::vllm, "ngc-26.05", {"--no-such-flag"}, "--no-such-flag is not a flag of vllm"},
        {Engine::llama_cpp, "b6845", {"--made-up"}, "--made-up is not a flag of llama.cpp b6845"},
    };
    for (const Case& c : cases) {
        auto r = check_extra_args(c.e, c.version, c.args);
        ASSERT_FALSE(r.ok()) << c.args[0];
        EXPECT_EQ(r.error().code, base::Errc::bad_input);
        EXPECT_NE(r.error().message.find(c.expected), std::string::npos)
            << c.args[0] << " -> " << r.error().message;
    }
}

TEST_F(DeploymentTest, BadExtraArgsFailPlanning) {
    auto cfg = must_load("");
    DeploymentConfig d;
    d.id = "x";
    d.model = "qwen3-1.7b";
    d.engine = "llama.cpp";
    d.extra_args = {"-ngl", "10"};
    auto s = plan_deployment(d, LaunchContext{1, "k", false, "s", ""}, cfg);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().message.rfind("deployment 'x': extra_args: -ngl is refused", 0), 0u)
        << s.error().message;
}

TEST_F(DeploymentTest, VllmUtilizationFollowsTheLiveReading) {
    auto cfg = must_load("");
    DeploymentConfig d;
    d.id = "q8";
    d.model = "qwen3-8b";
    d.engine = "vllm";
    DeploymentSpec s = must_plan(d, cfg);
    ASSERT_GT(s.memory_total_bytes, 0u);
    const std::string planned = value_of(s.argv, "--gpu-memory-utilization");
    ASSERT_FALSE(planned.empty());
    const double u = std::strtod(planned.c_str(), nullptr);
    constexpr std::uint64_t kGiB = 1ull << 30;
    // Plenty free: unchanged.
    ASSERT_TRUE(fit_vllm_memory_utilization(s, s.memory_total_bytes, 2 * kGiB).ok());
    EXPECT_EQ(value_of(s.argv, "--gpu-memory-utilization"), planned);
    // Less free than the plan's fraction of the total: capped (the KV cache is fixed in bytes).
    ASSERT_TRUE(has(s.argv, "--kv-cache-memory-bytes"));
    const auto avail =
        static_cast<std::uint64_t>((u - 0.05) * double(s.memory_total_bytes)) + 2 * kGiB;
    auto r = fit_vllm_memory_utilization(s, avail, 2 * kGiB);
    ASSERT_TRUE(r.ok()) << r.error().message;
    const double capped =
        std::strtod(value_of(s.argv, "--gpu-memory-utilization").c_str(), nullptr);
    EXPECT_LT(capped, u);
    EXPECT_LE(capped * double(s.memory_total_bytes), double(avail - 2 * kGiB));
    // Nothing free: refused with exit 3's kind.
    auto none = fit_vllm_memory_utilization(s, kGiB, 2 * kGiB);
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.error().code, base::Errc::does_not_fit);
    EXPECT_NE(none.error().message.find("MemAvailable 1.00 GiB"), std::string::npos)
        << none.error().message;
}

// up's plan options reach the plan: a smaller budget and fp8 KV change what is planned, and
// they survive the JSON a daemon stores an `up` deployment as.
TEST_F(DeploymentTest, PlanOptionsArePlannedAndStored) {
    auto cfg = must_load("");
    DeploymentConfig d;
    d.id = "v";
    d.model = "qwen3-8b";
    d.engine = "vllm";
    const DeploymentSpec plain = must_plan(d, cfg);
    d.kv_cache_dtype = "fp8";
    d.budget = "40GiB";
    d.prefer = "fit";
    d.overrides = {"R-OPS-2"};
    const DeploymentSpec chosen = must_plan(d, cfg);
    EXPECT_EQ(value_of(chosen.argv, "--kv-cache-dtype"), "fp8");
    EXPECT_NE(value_of(plain.argv, "--kv-cache-dtype"), "fp8");
    EXPECT_LT(chosen.planned_bytes, plain.planned_bytes);

    auto back = deployment_from_json(deployment_to_json(d));
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->kv_cache_dtype, "fp8");
    EXPECT_EQ(back->budget, "40GiB");
    EXPECT_EQ(back->prefer, "fit");
    EXPECT_EQ(back->overrides, (Argv{"R-OPS-2"}));
    EXPECT_EQ(deployment_to_json(*back), deployment_to_json(d));
}

// One alias on a llama.cpp and a vLLM deployment: the gateway's R-OPS-3 routing between them.
TEST_F(DeploymentTest, AnAliasMayBeShared) {
    auto ds = read_deployments(must_load(R"(
[[models]]
id = "chat-l"
model = "qwen3-8b"
engine = "llama.cpp"
aliases = ["qwen"]

[[models]]
id = "chat-v"
model = "qwen3-8b"
engine = "vllm"
aliases = ["qwen", "agents"]
)"));
    ASSERT_TRUE(ds.ok()) << ds.error().message;
    ASSERT_EQ(ds->size(), 2u);
    EXPECT_EQ((*ds)[0].aliases, (Argv{"qwen"}));
    EXPECT_EQ((*ds)[1].aliases, (Argv{"qwen", "agents"}));
}

TEST_F(DeploymentTest, MaxInFlightIsStoredAndChecked) {
    DeploymentConfig d;
    d.id = "v";
    d.model = "qwen3-8b";
    d.max_in_flight = 3;
    auto back = deployment_from_json(deployment_to_json(d));
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->max_in_flight, 3);
    // A record from before the key: no limit.
    auto old = deployment_from_json(R"({"id":"v","model":"qwen3-8b"})");
    ASSERT_TRUE(old.ok());
    EXPECT_EQ(old->max_in_flight, 0);
    for (const char* bad : {R"({"id":"v","model":"m","max_in_flight":"2"})",
                            R"({"id":"v","model":"m","max_in_flight":99999999999})"}) {
        auto r = deployment_from_json(bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_NE(r.error().message.find("'max_in_flight'"), std::string::npos) << bad;
    }
    d.max_in_flight = -2;
    auto v = validate_deployment(d, "up v");
    ASSERT_FALSE(v.ok());
    EXPECT_NE(v.error().message.find("up v: key 'max_in_flight': -2 is not in 0.."),
              std::string::npos)
        << v.error().message;
}

}  // namespace
}  // namespace sparkctl::serve
