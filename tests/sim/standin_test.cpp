// The stand-in engine's command-line parsing (src/sim/standin.h): every native server command
// `plan` renders for the catalog's models, on each engine, parses, and the settings read back are
// the plan's (port, served name, context, sequences, prefix caching).
#include <gtest/gtest.h>

#include <future>
#include <string>
#include <vector>

#include "model/catalog.h"
#include "net/client.h"
#include "net/sse.h"
#include "plan/plan_fixtures.h"
#include "sim/standin.h"
#include "sim/standin_chunk.h"
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

// The token events spliced from a per-request text equal the chunk nlohmann builds and dumps,
// for tokens and model names that need escaping (the stand-in's own tokens are plain words, but
// the splice must not depend on that).
TEST(StandinChunk, SplicedTokenEventEqualsTheNlohmannChunk) {
    const std::vector<std::string> tokens = {"",
                                             " The",
                                             "\"",
                                             "\\",
                                             "\\\"",
                                             "a\nb\r\nc",
                                             "\t\b\f",
                                             "\x01\x1f",
                                             "\x7f",
                                             "\\u0041",
                                             "/",
                                             "</script>",
                                             "\xc3\xa9",
                                             "\xe6\x97\xa5\xe6\x9c\xac",
                                             "\xf0\x9f\x98\x80",
                                             "A",
                                             "B",
                                             "AB",
                                             "data: x"};
    const std::vector<std::string> models = {"m", "we\"ird\\model\n\x01", "\xe6\x97\xa5/m"};
    int compared = 0;
    for (const bool chat : {true, false}) {
        for (const std::string& model : models) {
            const ChunkHead head{chat ? "chatcmpl-sim-7" : "cmpl-sim-0", chat, 1765000000, model};
            const TokenEvents events(head);
            for (const std::string& t : tokens) {
                const std::string want =
                    net::sse_event(chunk_json(head, token_choice(chat, t)).dump());
                EXPECT_EQ(events.event(t), want) << (chat ? "chat " : "completions ") << model;
                ++compared;
            }
        }
    }
    EXPECT_EQ(compared, 2 * 3 * 19);
}

// A running stand-in of each engine at --speed 0 (tokens sent in bursts) streams exactly the
// chunks nlohmann builds, chat and completions, past several bursts; a hang after N tokens
// sends exactly N.
struct Streamed {
    int status = 0;
    std::string body;
    bool ok = false;
};

Streamed stream(std::uint16_t port, bool chat, std::uint32_t tokens, int timeout_ms) {
    using nlohmann::json;
    net::Client client;
    net::ClientRequest r;
    r.port = port;
    r.method = "POST";
    r.target = chat ? "/v1/chat/completions" : "/v1/completions";
    r.headers = {{"Content-Type", "application/json"}};
    json body = {{"model", "m"}, {"max_tokens", tokens}, {"stream", true}};
    if (chat) {
        body["messages"] = {{{"role", "user"}, {"content", "a b"}}};
    } else {
        body["prompt"] = "a b";
    }
    r.body = body.dump();
    r.timeout_ms = timeout_ms;
    auto out = std::make_shared<Streamed>();
    std::promise<void> done;
    net::StreamCallbacks cb;
    cb.on_headers = [out](int status, const net::Headers&) { out->status = status; };
    cb.on_body = [out](std::string_view d, auto) { out->body.append(d); };
    cb.on_done = [out, &done](base::Result<void> res) {
        out->ok = res.ok();
        done.set_value();
    };
    client.request(std::move(r), std::move(cb));
    done.get_future().wait();
    return *out;
}

Options standin_options(Engine engine, std::vector<std::string> argv) {
    Options o;
    auto args = parse_engine_argv(engine, argv);
    EXPECT_TRUE(args) << args.error().message;
    o.args = *args;
    o.args.port = 0;
    o.timing = *parse_fixed_timing("fixed:0,0");
    o.speed = 0;
    return o;
}

TEST(StandinChunk, StreamsAtSpeedZeroAreTheNlohmannChunksPerEngine) {
    using nlohmann::json;
    const std::vector<std::pair<Engine, std::vector<std::string>>> engines = {
        {Engine::vllm, {"serve", "m"}},
        {Engine::sglang, {"--model-path", "m"}},
        {Engine::llama_cpp, {"-m", "m", "-np", "2"}}};
    for (const auto& [engine, argv] : engines) {
        Server server(standin_options(engine, argv));
        ASSERT_TRUE(server.start());
        for (const bool chat : {true, false}) {
            const std::uint32_t n = 40;  // more than two bursts
            const Streamed s = stream(server.port(), chat, n, 10'000);
            ASSERT_TRUE(s.ok && s.status == 200) << s.status << " " << s.body;
            // The head of every chunk, from the first event.
            const std::string first = s.body.substr(6, s.body.find('\n') - 6);
            const json j = json::parse(first);
            const ChunkHead head{j["id"].get<std::string>(), chat, j["created"].get<std::int64_t>(),
                                 "m"};
            std::string want;
            for (std::uint32_t i = 0; i < n; ++i) {
                want +=
                    net::sse_event(chunk_json(head, token_choice(chat, filler_token(i))).dump());
            }
            const std::string label =
                std::string(engines::to_string(engine)) + (chat ? " chat" : " completions");
            EXPECT_NE(s.body.find(want), std::string::npos) << label << ":\n" << s.body;
            EXPECT_NE(s.body.find(want + "data: "), std::string::npos) << label;  // then finish
        }
    }
}

TEST(StandinChunk, HangAfterTokensStopsAtExactlyThatTokenInABurst) {
    Options o = standin_options(Engine::vllm, {"serve", "m"});
    o.faults.hang_after_tokens = 20;  // inside the second burst
    Server server(std::move(o));
    ASSERT_TRUE(server.start());
    const Streamed s = stream(server.port(), false, 40, 1'000);
    EXPECT_FALSE(s.ok);  // the client's deadline ends the hung stream
    EXPECT_EQ(s.status, 200);
    std::size_t events = 0;
    net::SseParser p;
    ASSERT_TRUE(p.feed(s.body, [&](const net::SseEvent&) { ++events; }));
    EXPECT_EQ(events, 20u) << s.body;
}

}  // namespace
}  // namespace sparkctl::sim::standin
