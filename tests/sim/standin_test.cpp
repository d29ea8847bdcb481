// The stand-in engine's command-line parsing (src/sim/standin.h): every native server command
// `plan` renders for the catalog's models, on each engine, parses, and the settings read back are
// the plan's (port, served name, context, sequences, prefix caching).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "model/catalog.h"
#include "plan/plan_fixtures.h"
#include "sim/standin.h"
#include "sim/standin_request.h"

namespace sparkctl::sim::standin {
namespace {

using engines::Engine;

std::vector<std::string> without_executable(const plan::LaunchCommand& c) {
    return {c.argv.begin() + 1, c.argv.end()};
}

TEST(StandinArgv, EveryPlanCommandOfTheCatalogParses) {
    int parsed = 0;
    for (const model::CatalogEntry& e : model::catalog()) {
        for (const char* engine : {"vllm", "sglang", "llama.cpp"}) {
            for (std::uint32_t users : {1u, 4u}) {
                plan::PlanRequest r = plan::fixtures::request(plan::UseCase::chat, users);
                r.engine = engine;
                auto p = plan::make_plan(e.spec, e.variants, r, plan::RuleBook::builtin());
                if (!p || p->status != plan::Status::ok) continue;
                const plan::LaunchCommand* cmd = plan::fixtures::server(*p);
                ASSERT_NE(cmd, nullptr) << e.spec.name;
                auto a = parse_engine_argv(p->engine, without_executable(*cmd));
                ASSERT_TRUE(a) << e.spec.name << " " << engine << ": " << a.error().message;
                EXPECT_EQ(a->port, p->port) << e.spec.name;
                EXPECT_EQ(a->served_model_name, p->served_model_name) << e.spec.name;
                // llama.cpp reports the slot's context: -c divided among -np.
                EXPECT_EQ(a->context, p->context) << e.spec.name << " " << engine;
                EXPECT_EQ(a->max_seqs, p->parallel) << e.spec.name << " " << engine;
                EXPECT_EQ(a->host, "127.0.0.1");
                ++parsed;
            }
        }
    }
    EXPECT_GT(parsed, 20);
}

TEST(StandinArgv, PrefixCachingFlagsPerEngine) {
    auto v = parse_engine_argv(Engine::vllm, {"serve", "m", "--no-enable-prefix-caching"});
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_FALSE(v->prefix_caching);
    v = parse_engine_argv(Engine::vllm, {"serve", "m", "--enable-prefix-caching"});
    ASSERT_TRUE(v);
    EXPECT_TRUE(v->prefix_caching);
    auto s = parse_engine_argv(Engine::sglang, {"-m", "sglang.launch_server", "--model-path", "m",
                                                "--disable-radix-cache"});
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_FALSE(s->prefix_caching);
    auto l = parse_engine_argv(Engine::llama_cpp, {"-m", "x.gguf", "--no-cache-prompt", "-c",
                                                   "8192", "-np", "4", "--api-key", "k"});
    ASSERT_TRUE(l) << l.error().message;
    EXPECT_FALSE(l->prefix_caching);
    EXPECT_EQ(l->context, 2048u);
    EXPECT_EQ(l->api_key, "k");
    EXPECT_EQ(l->port, 8080);
    EXPECT_EQ(l->served_model_name, "x.gguf");
}

// Cached-token reporting and llama.cpp's optional endpoints, each engine's flag and default.
TEST(StandinArgv, UsageDetailsAndOptionalEndpoints) {
    auto v = parse_engine_argv(Engine::vllm, {"serve", "m"});
    ASSERT_TRUE(v);
    EXPECT_FALSE(v->report_cached_tokens);
    EXPECT_TRUE(v->metrics_endpoint);
    v = parse_engine_argv(Engine::vllm, {"serve", "m", "--enable-prompt-tokens-details"});
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_TRUE(v->report_cached_tokens);
    auto s = parse_engine_argv(Engine::sglang, {"--model-path", "m", "--enable-cache-report"});
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_TRUE(s->report_cached_tokens);
    auto l = parse_engine_argv(Engine::llama_cpp, {"-m", "x.gguf"});
    ASSERT_TRUE(l);
    EXPECT_TRUE(l->report_cached_tokens);
    EXPECT_FALSE(l->metrics_endpoint);
    EXPECT_TRUE(l->slots_endpoint);
    l = parse_engine_argv(Engine::llama_cpp, {"-m", "x.gguf", "--metrics", "--no-slots"});
    ASSERT_TRUE(l) << l.error().message;
    EXPECT_TRUE(l->metrics_endpoint);
    EXPECT_FALSE(l->slots_endpoint);
}

TEST(StandinArgv, EqualsFormAndDefaults) {
    auto v =
        parse_engine_argv(Engine::vllm, {"serve", "org/m", "--port=9001", "--max-model-len=4096"});
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_EQ(v->port, 9001);
    EXPECT_EQ(v->context, 4096u);
    EXPECT_EQ(v->model, "org/m");
    EXPECT_TRUE(v->prefix_caching);
    auto s = parse_engine_argv(Engine::sglang, {"--model-path", "m"});
    ASSERT_TRUE(s);
    EXPECT_EQ(s->port, 30000);
}

TEST(StandinArgv, BadInputNamesTheArgument) {
    auto u = parse_engine_argv(Engine::vllm, {"serve", "m", "--no-such-flag"});
    ASSERT_FALSE(u);
    EXPECT_NE(u.error().message.find("--no-such-flag"), std::string::npos);
    auto n = parse_engine_argv(Engine::llama_cpp, {"-m", "x", "-c", "lots"});
    ASSERT_FALSE(n);
    EXPECT_NE(n.error().message.find("lots"), std::string::npos);
    auto m = parse_engine_argv(Engine::sglang, {"--port", "1"});
    ASSERT_FALSE(m);
    EXPECT_NE(m.error().message.find("no model"), std::string::npos);
    auto d = parse_engine_argv(Engine::vllm, {"serve", "m", "--port"});
    ASSERT_FALSE(d);
    EXPECT_NE(d.error().message.find("--port"), std::string::npos);
}

TEST(StandinTiming, FixedParsesAndRejects) {
    auto t = parse_fixed_timing("fixed:120,15.5");
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_DOUBLE_EQ(t->ttft_ms(100, 0, 1), 120);
    EXPECT_DOUBLE_EQ(t->itl_ms(3, 100), 15.5);
    for (const char* bad : {"fixed:", "fixed:1", "fixed:a,2", "fixed:-1,2", "step:1,2"}) {
        EXPECT_FALSE(parse_fixed_timing(bad)) << bad;
    }
}

TEST(StandinText, TokensCountAsTheFillerWrites) {
    EXPECT_EQ(count_tokens(""), 0u);
    EXPECT_EQ(count_tokens("  a  b\nc "), 3u);
    std::string text;
    for (int i = 0; i < 25; ++i) text += filler_token(i);
    EXPECT_EQ(count_tokens(text), 25u);
    EXPECT_EQ(filler_token(0), "The");
    EXPECT_EQ(filler_token(10), " The");
}

// Each engine's limits and refusals (src/sim/standin_request.h), on the engines' own boundaries.
TEST(StandinRequest, LimitsAndRefusalsPerEngine) {
    using nlohmann::json;
    auto limits = [](Engine e, const json& body, bool chat, std::uint32_t prompt,
                     std::optional<std::uint32_t> eos = std::nullopt) {
        return request_limits(e, body, chat, 64, prompt, eos);
    };
    auto refusal = [](const std::variant<Limits, RequestError>& v) {
        const auto* e = std::get_if<RequestError>(&v);
        return e ? e->message : std::string();
    };
    // vLLM: max_tokens over what the context leaves; chat without a limit gets the rest.
    auto v = limits(Engine::vllm, {{"max_tokens", 60}}, true, 10);
    EXPECT_EQ(refusal(v).rfind("'max_tokens' or 'max_completion_tokens' is too large: 60.", 0), 0u)
        << refusal(v);
    v = limits(Engine::vllm, json::object(), true, 10);
    ASSERT_TRUE(std::holds_alternative<Limits>(v));
    EXPECT_EQ(std::get<Limits>(v).max_tokens, 54u);
    v = limits(Engine::vllm, json::object(), false, 10);  // completions: 16
    EXPECT_EQ(std::get<Limits>(v).max_tokens, 16u);
    v = limits(Engine::vllm, {{"max_tokens", 4}, {"min_tokens", 5}}, true, 10);
    EXPECT_EQ(refusal(v), "min_tokens must be less than or equal to max_tokens=4, got 5.");
    // SGLang: prompt + max_tokens at the context is refused (>=).
    auto s = limits(Engine::sglang, {{"max_tokens", 54}}, true, 10);
    EXPECT_EQ(refusal(s).rfind("Requested token count exceeds the model's maximum context length "
                               "of 64 tokens. You requested a total of 64 tokens",
                               0),
              0u)
        << refusal(s);
    s = limits(Engine::sglang, {{"max_tokens", 53}}, true, 10);
    EXPECT_TRUE(std::holds_alternative<Limits>(s));
    s = limits(Engine::sglang, json::object(), true, 64);
    EXPECT_EQ(refusal(s),
              "The input (64 tokens) is longer than the model's context length (64 "
              "tokens).");
    // llama.cpp: n_predict wins; a long limit is cut to the context; the prompt filling it is
    // exceed_context_size_error with the counts.
    auto l = limits(Engine::llama_cpp, {{"max_tokens", 9}, {"n_predict", 3}}, true, 10);
    EXPECT_EQ(std::get<Limits>(l).max_tokens, 3u);
    l = limits(Engine::llama_cpp, {{"max_tokens", 100}}, false, 10);
    EXPECT_EQ(std::get<Limits>(l).max_tokens, 54u);
    l = limits(Engine::llama_cpp, json::object(), true, 64);
    const auto* e = std::get_if<RequestError>(&l);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->type, "exceed_context_size_error");
    EXPECT_EQ(e->extra["n_prompt_tokens"], 64);
    // The simulated EOS: honoured unless ignore_eos, never before min_tokens (not llama.cpp's).
    v = limits(Engine::vllm, {{"max_tokens", 10}}, true, 5, 4);
    EXPECT_EQ(std::get<Limits>(v).produce, 4u);
    v = limits(Engine::vllm, {{"max_tokens", 10}, {"ignore_eos", true}}, true, 5, 4);
    EXPECT_EQ(std::get<Limits>(v).produce, 10u);
    v = limits(Engine::vllm, {{"max_tokens", 10}, {"min_tokens", 7}}, true, 5, 4);
    EXPECT_EQ(std::get<Limits>(v).produce, 7u);
    l = limits(Engine::llama_cpp, {{"max_tokens", 10}, {"min_tokens", 7}}, true, 5, 4);
    EXPECT_EQ(std::get<Limits>(l).produce, 4u);
    EXPECT_FALSE(refusal(limits(Engine::vllm, {{"ignore_eos", "yes"}}, true, 5)).empty());
}

}  // namespace
}  // namespace sparkctl::sim::standin
