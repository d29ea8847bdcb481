// The launch outputs of `sparkctl plan` (docs/dev/plan.md, "Commands" and "Formats"): what a
// container mounts, gated repositories, the health deadline, clusters (vLLM's multiprocessing
// launcher or Ray, the RoCE devices), llama.cpp builds and colour. The sh script is run for real
// in tests/e2e/plan_e2e_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "engines/versions.h"
#include "model/catalog.h"
#include "plan/plan.h"
#include "plan/plan_fixtures.h"
#include "plan/render.h"
#include "plan/rules.h"

namespace sparkctl::plan {
namespace {

using engines::Engine;

using namespace fixtures;  // NOLINT(google-build-using-namespace): shared helpers

std::vector<const LaunchCommand*> with_role(const Plan& p, const std::string& role,
                                            const std::string& kind) {
    std::vector<const LaunchCommand*> out;
    for (const LaunchCommand& c : p.commands) {
        if (c.role == role && c.kind == kind) out.push_back(&c);
    }
    return out;
}

std::string env_of(const LaunchCommand& c, const std::string& key) {
    for (const auto& [k, v] : c.env) {
        if (k == key) return v;
    }
    return "";
}

bool has_placeholder(const Plan& p, const std::string& name) {
    return std::find(p.placeholders.begin(), p.placeholders.end(), name) != p.placeholders.end();
}

// Item 8a: a Hugging Face cache snapshot links its files to ../../blobs; the container mounts the
// whole models--org--name directory and serves the snapshot as it sees it.
TEST(PlanLaunch, HfCacheInputIsMountedIntoTheContainer) {
    const model::CatalogEntry* e = model::find_model("qwen3-8b");
    ASSERT_NE(e, nullptr);
    model::ModelSpec spec = e->spec;
    spec.source = model::SourceKind::hf_cache;
    spec.name = "Qwen3-8B";
    const std::string repo = "/data/hub/models--Qwen--Qwen3-8B";
    spec.files = {repo + "/snapshots/abc123/model-00001-of-00002.safetensors",
                  repo + "/snapshots/abc123/model-00002-of-00002.safetensors"};
    PlanRequest r = request(UseCase::chat);
    r.engine = "vllm";
    auto p = make_plan(spec, {}, r, RuleBook::builtin());
    ASSERT_TRUE(p.ok()) << p.error().message;
    ASSERT_EQ(p->status, Status::ok) << p->refusal;
    const LaunchCommand* native = server(*p);
    ASSERT_NE(native, nullptr);
    EXPECT_EQ(native->argv[2], repo + "/snapshots/abc123");  // the host path, natively
    const LaunchCommand* c = server(*p, "container");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(arg_after(*c, "-v"), repo + ":/models/models--Qwen--Qwen3-8B:ro");
    EXPECT_TRUE(has_arg(*c, "/models/models--Qwen--Qwen3-8B/snapshots/abc123"));
    EXPECT_FALSE(has_arg(*c, repo + "/snapshots/abc123"));  // no unmounted host path
    EXPECT_FALSE(has_placeholder(*p, "HF_CACHE"));          // nothing is downloaded
    // The compose file carries the same mount.
    EXPECT_NE(render_compose(*p).find(repo + ":/models/models--Qwen--Qwen3-8B:ro"),
              std::string::npos);

    // A checkpoint directory given by a relative path is mounted as an absolute one.
    spec.source = model::SourceKind::safetensors;
    spec.files = {"models/qwen3-8b/model.safetensors"};
    auto d = make_plan(spec, {}, r, RuleBook::builtin());
    ASSERT_TRUE(d.ok()) << d.error().message;
    const LaunchCommand* dc = server(*d, "container");
    ASSERT_NE(dc, nullptr);
    const std::string v = arg_after(*dc, "-v");
    EXPECT_EQ(v.front(), '/') << v;
    EXPECT_NE(v.find("/models/qwen3-8b:/models/qwen3-8b:ro"), std::string::npos) << v;
    EXPECT_TRUE(has_arg(*dc, "/models/qwen3-8b"));
    EXPECT_EQ(server(*d)->argv[2], "models/qwen3-8b");  // natively, as given
}

// Item 8d: a gated repository needs a token: a placeholder, a warning, and the commands pass it
// from the environment (never written into the argv).
TEST(PlanLaunch, GatedRepositoryNeedsHfToken) {
    PlanRequest r = request(UseCase::chat);
    r.engine = "vllm";
    r.quant = "bf16";
    Plan p = plan_for("llama-3.1-8b", r);
    ASSERT_EQ(p.status, Status::ok) << p.refusal;
    ASSERT_EQ(p.variant_repo.rfind("meta-llama/", 0), 0u) << p.variant_repo;
    EXPECT_TRUE(has_placeholder(p, "HF_TOKEN"));
    EXPECT_TRUE(warned(p, "is gated on Hugging Face"));
    EXPECT_EQ(env_of(*server(p), "HF_TOKEN"), "${HF_TOKEN}");
    const LaunchCommand* c = server(p, "container");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(arg_after(*c, "-e"), "HF_TOKEN");
    const std::string sh = render_sh(p, "");
    EXPECT_NE(sh.find("read -rsp 'HF_TOKEN: ' HF_TOKEN"), std::string::npos);
    EXPECT_NE(sh.find("export HF_TOKEN"), std::string::npos);
    EXPECT_NE(render_llama_swap(p).find("- \"HF_TOKEN=${env.HF_TOKEN}\""), std::string::npos);

    // An ungated repository: none of it.
    Plan q = plan_for("qwen3-8b", request(UseCase::chat));
    EXPECT_FALSE(has_placeholder(q, "HF_TOKEN"));
    EXPECT_FALSE(warned(q, "gated"));
    EXPECT_TRUE(server(q)->env.empty());
}

// Item 8e: dropping the page cache as a normal user needs sudo on the writing side.
TEST(PlanLaunch, DropCachesUsesSudoTee) {
    Plan p = plan_for("qwen3-8b", request(UseCase::chat));
    const LaunchCommand* c = server(p);
    ASSERT_NE(c, nullptr);
    EXPECT_NE(c->note.find("sync; echo 3 | sudo tee /proc/sys/vm/drop_caches"), std::string::npos)
        << c->note;
    EXPECT_EQ(c->note.find("echo 3 >"), std::string::npos);
}

// Item 8c: every llama-swap entry carries a healthCheckTimeout from the weights and an assumed
// load rate, never below llama-swap's default of 120 s.
TEST(PlanLaunch, LlamaSwapHealthCheckTimeoutFollowsTheWeights) {
    PlanRequest r = request(UseCase::agents, 4);
    Plan big = plan_for("gpt-oss-120b", r);
    ASSERT_EQ(big.status, Status::ok) << big.refusal;
    ASSERT_NE(big.engine, Engine::llama_cpp);
    const std::uint64_t t = health_timeout_s(big);
    const double weights_s = static_cast<double>(big.fit.estimate.memory.weights_bytes) / 1e9;
    EXPECT_GT(static_cast<double>(t), 1.5 * weights_s);  // load at 1 GB/s, x1.5, plus startup
    EXPECT_GT(t, 120u);
    const std::string swap = render_llama_swap(big);
    EXPECT_NE(swap.find("healthCheckTimeout: " + std::to_string(t) + "\n"), std::string::npos)
        << swap;
    EXPECT_LT(swap.find("healthCheckTimeout:"), swap.find("models:"));  // a global setting

    Plan small = plan_for("qwen3-8b", request(UseCase::chat));
    EXPECT_EQ(health_timeout_s(small), 120u);  // ~5 GB loads well inside the default
    EXPECT_NE(render_llama_swap(small).find("healthCheckTimeout: 120\n"), std::string::npos);
    // The sh script and compose use the same deadline.
    EXPECT_NE(render_sh(big, "").find("HEALTH_TIMEOUT=\"${HEALTH_TIMEOUT:-" + std::to_string(t)),
              std::string::npos);
}

// Item 8b (structure; tests/e2e runs it): the server starts in the background with a log and a
// deadline; KIND=container is refused for an engine without an image.
TEST(PlanLaunch, ShScriptBackgroundsTheServerAndRefusesAMissingKind) {
    Plan l = plan_for("qwen3-8b", request(UseCase::chat));
    const std::string sh = render_sh(l, "");
    EXPECT_NE(sh.find("nohup \"${LLAMA_SERVER}\" -hf"), std::string::npos) << sh;
    EXPECT_NE(sh.find("2>&1 &\n  wait_healthy http://127.0.0.1:${PORT}/health \"$!\""),
              std::string::npos)
        << sh;
    EXPECT_NE(sh.find("has no official image in the playbooks: run KIND=native"),
              std::string::npos);
    EXPECT_NE(sh.find("--port \"${PORT}\""), std::string::npos);

    PlanRequest r = request(UseCase::agents, 4);
    Plan v = plan_for("gpt-oss-120b", r);
    const std::string vsh = render_sh(v, "");
    EXPECT_EQ(vsh.find("run KIND=native"), std::string::npos);  // vLLM has an image
    EXPECT_NE(vsh.find("nohup \"${DOCKER}\" run"), std::string::npos) << vsh;
    EXPECT_NE(vsh.find("127.0.0.1:${PORT}:${PORT}"), std::string::npos);
}

// Item 11: two nodes plan vLLM's own launcher (no Ray) where the version defines its flags:
// workers --headless first, then rank 0 serving the API; NCCL_IB_HCA names both RoCE devices.
TEST(PlanLaunch, ClusterUsesVllmMultiprocessingLauncherByDefault) {
    PlanRequest r = request(UseCase::agents, 4);
    r.context = 16384;
    r.nodes = 2;
    Plan p = plan_for("llama-3.1-70b", r);
    ASSERT_EQ(p.status, Status::ok) << p.refusal;
    ASSERT_EQ(p.engine_version.name, "ngc-26.05");
    for (const char* f : {"--nnodes", "--node-rank", "--master-addr", "--headless"}) {
        ASSERT_TRUE(engines::accepts_flag(p.engine_version, f)) << f;
    }
    const Decision* d = decision(p, "launcher");
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->rule, "R-OPS-4");
    EXPECT_NE(d->outcome.find("multiprocessing"), std::string::npos);
    EXPECT_TRUE(with_role(p, "ray-head", "native").empty());
    const auto workers = with_role(p, "worker", "native");
    ASSERT_EQ(workers.size(), 1u);
    const LaunchCommand& w = *workers[0];
    EXPECT_EQ(w.node, "${NODE1_HOST}");
    EXPECT_EQ(arg_after(w, "--nnodes"), "2");
    EXPECT_EQ(arg_after(w, "--node-rank"), "1");
    EXPECT_EQ(arg_after(w, "--master-addr"), "${NODE0_IP}");
    EXPECT_TRUE(has_arg(w, "--headless"));
    const LaunchCommand* head = server(p);
    ASSERT_NE(head, nullptr);
    EXPECT_EQ(arg_after(*head, "--node-rank"), "0");
    EXPECT_EQ(arg_after(*head, "--distributed-executor-backend"), "mp");
    EXPECT_FALSE(has_arg(*head, "--headless"));
    // Workers come before the head (rank 0 waits for them).
    const auto wi = std::find_if(p.commands.begin(), p.commands.end(),
                                 [](const LaunchCommand& c) { return c.role == "worker"; });
    EXPECT_LT(wi - p.commands.begin(), head - p.commands.data());
    EXPECT_EQ(env_of(*head, "NCCL_IB_HCA"), "${ROCE_HCAS}");
    EXPECT_EQ(env_of(w, "NCCL_SOCKET_IFNAME"), "${FABRIC_IF}");
    EXPECT_EQ(env_of(*head, "RAY_memory_monitor_refresh_ms"), "");
    EXPECT_TRUE(has_placeholder(p, "ROCE_HCAS"));
    EXPECT_TRUE(warned(p, "NCCL_IB_HCA"));
    expect_flags_accepted(p);
    const auto cworkers = with_role(p, "worker", "container");
    ASSERT_EQ(cworkers.size(), 1u);
    EXPECT_TRUE(has_arg(*cworkers[0], "--headless"));
    EXPECT_TRUE(has_arg(*cworkers[0], "NCCL_IB_HCA=${ROCE_HCAS}"));
    // The sh script starts the worker over ssh with the placeholders expanded locally.
    const std::string sh = render_sh(p, "me");
    EXPECT_NE(sh.find("ssh \"me@${NODE1_HOST}\" bash -s"), std::string::npos) << sh;
    EXPECT_NE(sh.find("read -rp 'ROCE_HCAS: ' ROCE_HCAS"), std::string::npos);

    // The inventory fills the RoCE devices and the fabric interface.
    ClusterInventory inv;
    inv.hosts = {"spark-a", "spark-b"};
    inv.addresses = {"192.168.100.10", "192.168.100.11"};
    inv.fabric_interface = "enp1s0f1np1";
    inv.roce_hcas = {"rocep1s0f1", "roceP2p1s0f1"};
    r.cluster = inv;
    Plan q = plan_for("llama-3.1-70b", r);
    ASSERT_EQ(q.status, Status::ok);
    EXPECT_EQ(env_of(*server(q), "NCCL_IB_HCA"), "rocep1s0f1,roceP2p1s0f1");
    EXPECT_EQ(env_of(*server(q), "GLOO_SOCKET_IFNAME"), "enp1s0f1np1");
    EXPECT_FALSE(has_placeholder(q, "ROCE_HCAS"));
    EXPECT_TRUE(warned(q, "NCCL_IB_HCA=rocep1s0f1,roceP2p1s0f1"));
}

TEST(PlanLaunch, RayOnRequestAndForAVllmWithoutTheLauncherFlags) {
    PlanRequest r = request(UseCase::agents, 4);
    r.context = 16384;
    r.nodes = 2;
    r.launcher = "ray";
    Plan p = plan_for("llama-3.1-70b", r);
    ASSERT_EQ(p.status, Status::ok) << p.refusal;
    EXPECT_EQ(with_role(p, "ray-head", "native").size(), 1u);
    EXPECT_EQ(arg_after(*server(p), "--distributed-executor-backend"), "ray");
    EXPECT_EQ(decision(p, "launcher")->outcome, "Ray");

    // vLLM 0.11's table lacks --nnodes/--node-rank/--master-addr: Ray, citing the table.
    r.launcher.clear();
    r.engine_version = "0.11";
    Plan old = plan_for("llama-3.1-70b", r);
    ASSERT_EQ(old.status, Status::ok) << old.refusal;
    ASSERT_FALSE(engines::accepts_flag(old.engine_version, "--nnodes"));
    const Decision* d = decision(old, "launcher");
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->outcome, "Ray");
    EXPECT_NE(d->reason.find("vLLM 0.11's flag table"), std::string::npos) << d->reason;
    EXPECT_NE(d->reason.find("--nnodes"), std::string::npos);
    EXPECT_EQ(with_role(old, "ray-head", "native").size(), 1u);
    // Asking for the multiprocessing launcher there warns and uses Ray.
    r.launcher = "mp";
    Plan forced = plan_for("llama-3.1-70b", r);
    EXPECT_TRUE(warned(forced, "--launcher mp: vLLM 0.11's flag table"));
    EXPECT_EQ(arg_after(*server(forced), "--distributed-executor-backend"), "ray");
}

// Item 10: llama.cpp builds. b6918 has no table of its own: the nearest at or below it (b6845).
TEST(PlanLaunch, LlamaCppBuildVersionsPickTheirTable) {
    PlanRequest r = request(UseCase::chat);
    r.engine_version = "b6918";
    Plan p = plan_for("qwen3-8b", r);
    ASSERT_EQ(p.status, Status::ok) << p.refusal;
    EXPECT_EQ(p.engine_version.name, "b6845");
    const Decision* d = decision(p, "engine-version");
    ASSERT_NE(d, nullptr);
    EXPECT_NE(d->reason.find("b6918"), std::string::npos) << d->reason;
    const LaunchCommand* c = server(p);
    EXPECT_EQ(arg_after(*c, "-ngl"), "999");  // b6845's -ngl takes a number only
    EXPECT_TRUE(has_arg(*c, "--no-mmap"));    // no --load-mode yet
    EXPECT_FALSE(has_arg(*c, "-fit"));
    expect_flags_accepted(p);
    r.bench = true;
    Plan b = plan_for("qwen3-8b", r);
    EXPECT_FALSE(has_arg(*server(b), "--no-cache-prompt"));  // not in b6845
    expect_flags_accepted(b);
    EXPECT_FALSE(warned(b, "flag table"));
}

TEST(PlanRender, ColourOnlyForATerminalWithoutNoColor) {
    EXPECT_TRUE(colour_wanted(true, nullptr));
    EXPECT_TRUE(colour_wanted(true, ""));  // https://no-color.org: set and non-empty
    EXPECT_FALSE(colour_wanted(true, "1"));
    EXPECT_FALSE(colour_wanted(false, nullptr));
    Plan ok = plan_for("qwen3-8b", request(UseCase::chat));
    EXPECT_NE(render_text(ok, false, true).find("\033[32mfits\033[0m: total"), std::string::npos);
    EXPECT_EQ(render_text(ok, false, false).find('\033'), std::string::npos);
    EXPECT_NE(render_text(ok, false, false).find("fits: total"), std::string::npos);
    Plan no = plan_for("deepseek-v3", request(UseCase::chat));
    ASSERT_EQ(no.status, Status::does_not_fit);
    EXPECT_NE(render_text(no, false, true).find("\033[31mDOES NOT FIT\033[0m (exit 3)"),
              std::string::npos);
    EXPECT_EQ(render_text(no, false, false).find('\033'), std::string::npos);
}

// Gemma 3 has no tool-call format in its own chat template: an agents plan on vLLM or SGLang
// passes vLLM's pythonic template (a placeholder the owner sets), and the container mounts it.
TEST(PlanLaunch, GemmaAgentsGetTheToolChatTemplate) {
    for (const char* engine : {"vllm", "sglang"}) {
        PlanRequest r = request(UseCase::agents, 4);
        r.engine = engine;
        const Plan p = plan_for("gemma-3-27b", r);
        ASSERT_EQ(p.status, Status::ok) << engine << ": " << p.refusal;
        const LaunchCommand* native = server(p);
        ASSERT_NE(native, nullptr);
        EXPECT_EQ(arg_after(*native, "--tool-call-parser"), "pythonic") << engine;
        EXPECT_EQ(arg_after(*native, "--chat-template"), "${TOOL_CHAT_TEMPLATE}") << engine;
        EXPECT_TRUE(has_placeholder(p, "TOOL_CHAT_TEMPLATE")) << engine;
        EXPECT_TRUE(warned(p, "tool_chat_template_gemma3_pythonic.jinja")) << engine;
        expect_flags_accepted(p);
        const LaunchCommand* c = server(p, "container");
        ASSERT_NE(c, nullptr) << engine;
        EXPECT_TRUE(has_arg(*c, "${TOOL_CHAT_TEMPLATE}:/sparkctl/tool_chat_template.jinja:ro"));
        EXPECT_EQ(arg_after(*c, "--chat-template"), "/sparkctl/tool_chat_template.jinja");
    }
    // A family whose own template carries tool calls gets none.
    const Plan q = plan_for("qwen3-8b", request(UseCase::agents, 4));
    ASSERT_EQ(q.status, Status::ok);
    EXPECT_FALSE(has_arg(*server(q), "--chat-template"));
    EXPECT_FALSE(has_placeholder(q, "TOOL_CHAT_TEMPLATE"));
}

}  // namespace
}  // namespace sparkctl::plan
