// bench and engines/metrics: the prefix-cache readers on captured engine pages
// (src/engines/fixtures/) and on the stand-in's own pages, URL parsing, request bodies, the
// summary's definitions on hand-made records, and the load generator against an in-process
// stand-in (timings compared with the schedule it reports, never with wall-clock figures).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "bench/loadgen.h"
#include "bench/probe.h"
#include "bench/sse_event.h"
#include "bench/summary.h"
#include "engines/metrics.h"
#include "net/client.h"
#include "sim/standin.h"
#include "support/sandbox.h"

namespace sparkctl {
namespace {

using engines::Engine;
using nlohmann::json;

std::string fixture(const std::string& name) {
    std::ifstream in(test::source_dir() / "src/engines/fixtures" / name);
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_FALSE(ss.str().empty()) << name;
    return ss.str();
}

TEST(EngineMetrics, VllmCountersFromARealPage) {
    // vLLM 0.10.0 serves the new queries counter and the deprecated hits counter side by side.
    auto c =
        engines::vllm_prefix_cache_counters(fixture("vllm-0.10.0-metrics-excerpt.txt"), "vllm.txt");
    ASSERT_TRUE(c) << c.error().message;
    ASSERT_TRUE(c->query_tokens);
    EXPECT_EQ(*c->query_tokens, 32.0);
    ASSERT_TRUE(c->hit_tokens);
    EXPECT_EQ(*c->hit_tokens, 0.0);
}

TEST(EngineMetrics, VllmSettingMissingIsAnError) {
    auto s =
        engines::vllm_prefix_cache_setting(fixture("vllm-0.10.0-metrics-excerpt.txt"), "vllm.txt");
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message.find("vllm.txt"), std::string::npos);
    EXPECT_NE(s.error().message.find("cache_config_info"), std::string::npos);
}

TEST(EngineMetrics, RealLlamaServerPages) {
    // This llama-server lists only sampling parameters in /props: the setting is not shown.
    auto props =
        engines::llamacpp_prefix_cache_setting(fixture("llamacpp-80fb11a-props.json"), "p");
    ASSERT_TRUE(props) << props.error().message;
    EXPECT_FALSE(*props);
    EXPECT_EQ(engines::engine_from_models(fixture("llamacpp-80fb11a-models.json")),
              Engine::llama_cpp);
    // Its /metrics is not vLLM's: no cache_config_info, and no vLLM counters.
    EXPECT_FALSE(engines::vllm_prefix_cache_setting(fixture("llamacpp-80fb11a-metrics.txt"), "m"));
    auto c = engines::vllm_prefix_cache_counters(fixture("llamacpp-80fb11a-metrics.txt"), "m");
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_FALSE(c->hit_tokens);
}

TEST(EngineMetrics, VllmSettingLabels) {
    auto on = engines::vllm_prefix_cache_setting(
        "vllm:cache_config_info{block_size=\"16\",enable_prefix_caching=\"True\"} 1\n", "m");
    ASSERT_TRUE(on);
    EXPECT_TRUE(on->enabled);
    auto off = engines::vllm_prefix_cache_setting(
        "vllm:cache_config_info{enable_prefix_caching=\"False\"} 1\n", "m");
    ASSERT_TRUE(off);
    EXPECT_FALSE(off->enabled);
    EXPECT_FALSE(engines::vllm_prefix_cache_setting(
        "vllm:cache_config_info{enable_prefix_caching=\"maybe\"} 1\n", "m"));
    EXPECT_FALSE(engines::vllm_prefix_cache_setting("not prometheus {{{\n", "m"));
}

TEST(EngineMetrics, SglangAndLlamaCpp) {
    auto s = engines::sglang_prefix_cache_setting(R"({"disable_radix_cache": true})", "info");
    ASSERT_TRUE(s);
    EXPECT_FALSE(s->enabled);
    EXPECT_FALSE(engines::sglang_prefix_cache_setting(R"({"x": 1})", "info"));
    EXPECT_FALSE(engines::sglang_prefix_cache_setting("[", "info"));
    auto rate = engines::sglang_prefix_cache_counters(
        "sglang:cache_hit_rate{model_name=\"a\"} 0.25\nsglang:cache_hit_rate{model_name=\"b\"} "
        "0.75\n",
        "m");
    ASSERT_TRUE(rate && rate->hit_rate);
    EXPECT_DOUBLE_EQ(*rate->hit_rate, 0.5);
    // Newer llama-server builds do not list cache_prompt in /props: unknown, not an error.
    auto none = engines::llamacpp_prefix_cache_setting(
        R"({"default_generation_settings": {"params": {"temperature": 0.8}, "n_ctx": 4096}})", "p");
    ASSERT_TRUE(none);
    EXPECT_FALSE(*none);
    EXPECT_FALSE(engines::llamacpp_prefix_cache_setting("nope", "p"));
    EXPECT_EQ(engines::llamacpp_cache_n(R"({"timings": {"cache_n": 12, "prompt_n": 3}})"), 12u);
    EXPECT_EQ(engines::llamacpp_cache_n(R"({"timings": {"cache_n": -1}})"), std::nullopt);
    EXPECT_EQ(engines::llamacpp_cache_n(R"({"choices": []})"), std::nullopt);
    EXPECT_EQ(engines::engine_from_models(R"({"data": [{"id": "m", "owned_by": "vllm"}]})"),
              Engine::vllm);
    EXPECT_EQ(engines::engine_from_models(R"({"data": [{"id": "m", "owned_by": "openai"}]})"),
              std::nullopt);
}

// An in-process stand-in of `engine` on a free port, prefix caching as given.
struct InProcessStandin {
    InProcessStandin(Engine engine, bool prefix_caching, const std::string& timing) {
        sim::standin::Options o;
        o.args.engine = engine;
        o.args.port = 0;
        o.args.model = "test-model";
        o.args.served_model_name = "test-model";
        o.args.context = 4096;
        o.args.max_seqs = 8;
        o.args.prefix_caching = prefix_caching;
        auto t = sim::standin::parse_fixed_timing(timing);
        EXPECT_TRUE(t);
        o.timing = *t;
        o.speed = 1;
        server = std::make_unique<sim::standin::Server>(std::move(o));
        auto started = server->start();
        EXPECT_TRUE(started) << (started ? "" : started.error().message);
        ep = *bench::parse_url("http://127.0.0.1:" + std::to_string(server->port()));
    }
    std::unique_ptr<sim::standin::Server> server;
    bench::Endpoint ep;
};

TEST(BenchProbe, ReadsEachEnginesSettingFromTheStandin) {
    net::Client client;
    for (Engine e : engines::kAllEngines) {
        for (bool caching : {false, true}) {
            InProcessStandin s(e, caching, "fixed:0,0");
            auto info = bench::detect(client, s.ep, "");
            ASSERT_TRUE(info) << info.error().message;
            EXPECT_EQ(info->engine, e);
            EXPECT_TRUE(info->simulated);
            ASSERT_EQ(info->models.size(), 1u);
            const bench::CacheCheck c = bench::check_prefix_cache(client, s.ep, "", e);
            if (e == Engine::llama_cpp) {
                // Off per request whatever the server default. /props of current llama-server
                // builds (and so of the stand-in) no longer shows the default: the evidence says
                // what the client sends (src/engines/fixtures/llamacpp-80fb11a-props.json).
                EXPECT_EQ(c.state, bench::CacheCheck::State::off);
                EXPECT_TRUE(c.per_request_off);
                EXPECT_NE(c.evidence.find("cache_prompt=false sent with every request"),
                          std::string::npos)
                    << c.evidence;
            } else {
                EXPECT_EQ(c.state,
                          caching ? bench::CacheCheck::State::on : bench::CacheCheck::State::off)
                    << engines::to_string(e) << ": " << c.evidence;
            }
        }
    }
}

TEST(BenchProbe, UnknownEngineIsUnverified) {
    net::Client client;
    const bench::CacheCheck c = bench::check_prefix_cache(
        client, bench::Endpoint{"127.0.0.1", 1, "", ""}, "", std::nullopt);
    EXPECT_EQ(c.state, bench::CacheCheck::State::unverified);
}

TEST(BenchUrl, Parses) {
    auto a = bench::parse_url("http://127.0.0.1:8000/v1/");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "127.0.0.1");
    EXPECT_EQ(a->port, 8000);
    EXPECT_EQ(a->prefix, "");
    auto b = bench::parse_url("http://box/engines/a");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->port, 80);
    EXPECT_EQ(b->prefix, "/engines/a");
    auto v6 = bench::parse_url("http://[::1]:8001");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->port, 8001);
    for (const char* bad : {"https://x", "ftp://x", "http://", "http://x:0", "http://x:99999",
                            "http://x:12ab", "127.0.0.1:8000"}) {
        auto r = bench::parse_url(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, base::Errc::bad_input);
    }
}

TEST(BenchRequest, BodyAsksForEveryOutputToken) {
    bench::RunOptions o;
    o.model = "m";
    bench::RequestSpec spec;
    spec.tag = "1000001-x: ";
    spec.body = std::make_shared<const std::string>("a b c");
    spec.output_tokens = 7;
    o.engine = Engine::vllm;
    json v = json::parse(bench::request_body(o, spec));
    EXPECT_EQ(v["prompt"], "1000001-x: a b c");
    EXPECT_EQ(v["max_tokens"], 7);
    EXPECT_EQ(v["ignore_eos"], true);
    EXPECT_EQ(v["min_tokens"], 7);
    EXPECT_EQ(v["stream_options"]["include_usage"], true);
    o.engine = Engine::llama_cpp;
    o.cache_prompt_off = true;
    json l = json::parse(bench::request_body(o, spec));
    EXPECT_FALSE(l.contains("min_tokens"));
    EXPECT_EQ(l["cache_prompt"], false);
    o.engine.reset();
    o.cache_prompt_off = false;
    json n = json::parse(bench::request_body(o, spec));
    EXPECT_FALSE(n.contains("ignore_eos"));  // an unknown engine may reject unknown fields
}

bench::RequestRecord record(double ttft, double e2e, std::uint64_t tokens,
                            std::vector<double> gaps) {
    bench::RequestRecord r;
    r.ok = true;
    r.ttft_ms = ttft;
    r.e2e_ms = e2e;
    r.output_tokens = tokens;
    r.chunk_gap_ms = std::move(gaps);
    r.content_chunks = static_cast<std::uint32_t>(r.chunk_gap_ms.size() + 1);
    r.prompt_tokens_built = 10;
    r.usage_prompt_tokens = 11;
    return r;
}

TEST(BenchSummary, Definitions) {
    bench::PointResult p;
    p.duration_s = 2;
    // 5 tokens in 5 chunks: TPOT (100 - 20) / 4 = 20; the gaps are the ITLs.
    p.records.push_back(record(20, 100, 5, {10, 20, 20, 30}));
    // 5 tokens in 3 chunks: two tokens per gap on average, so each ITL is half its gap.
    p.records.push_back(record(40, 120, 5, {40, 40}));
    bench::RequestRecord failed;
    failed.error = "HTTP 500: boom";
    p.records.push_back(failed);
    auto slo = sim::parse_slo("ttft_p50<=30ms");
    ASSERT_TRUE(slo);
    const bench::Summary s = bench::summarize(p, *slo);
    EXPECT_EQ(s.s.requests_completed, 2u);
    EXPECT_EQ(s.errors, 1u);
    ASSERT_EQ(s.error_samples.size(), 1u);
    EXPECT_EQ(s.output_tokens, 10u);
    EXPECT_DOUBLE_EQ(s.s.output_tokens_per_s, 5.0);
    EXPECT_DOUBLE_EQ(s.s.requests_per_s, 1.0);
    ASSERT_TRUE(s.s.tpot_ms);
    EXPECT_DOUBLE_EQ(s.s.tpot_ms->mean, 20.0);
    ASSERT_TRUE(s.s.itl_ms && s.chunk_gap_ms);
    EXPECT_EQ(s.s.itl_ms->count, 6u);
    EXPECT_DOUBLE_EQ(s.s.itl_ms->p50, 20.0);      // 10, 20, 20, 20, 20, 30
    EXPECT_DOUBLE_EQ(s.chunk_gap_ms->p50, 25.0);  // 10, 20, 20, 30, 40, 40
    ASSERT_TRUE(s.goodput_requests_per_s);
    EXPECT_DOUBLE_EQ(*s.goodput_requests_per_s, 0.5);  // only the first meets ttft <= 30 ms
    ASSERT_TRUE(s.prompt_tokens_deviation_max);
    EXPECT_DOUBLE_EQ(*s.prompt_tokens_deviation_max, 0.1);
}

TEST(BenchSummary, DepthSpeedsAsLlamaBenchyDefinesThem) {
    bench::PointResult p;
    // 11 prompt tokens (usage) in 20 ms: 550 t/s; 4 tokens after the first in 80 ms: 50 t/s.
    p.records.push_back(record(20, 100, 5, {20, 20, 20, 20}));
    // 11 tokens in 55 ms: 200 t/s; 4 tokens in 40 ms: 100 t/s.
    p.records.push_back(record(55, 95, 5, {10, 10, 10, 10}));
    bench::RequestRecord one_token = record(10, 10, 1, {});
    one_token.usage_prompt_tokens.reset();  // as built: 10 tokens in 10 ms, no decode speed
    p.records.push_back(one_token);
    bench::RequestRecord failed;
    failed.error = "HTTP 500: boom";
    p.records.push_back(failed);
    const bench::DepthSpeeds d = bench::depth_speeds({p}, 1);
    ASSERT_TRUE(d.pp_tokens_per_s && d.tg_tokens_per_s);
    EXPECT_EQ(d.pp_tokens_per_s->n, 3u);
    EXPECT_DOUBLE_EQ(d.pp_tokens_per_s->mean, (550.0 + 200 + 1000) / 3);
    EXPECT_EQ(d.tg_tokens_per_s->n, 2u);
    EXPECT_DOUBLE_EQ(d.tg_tokens_per_s->mean, 75.0);
    EXPECT_DOUBLE_EQ(d.tg_tokens_per_s->stdev, 25.0);  // population standard deviation
    // One request at a time: the total is the per-request speed (llama-benchy at c1).
    ASSERT_TRUE(d.pp_tokens_per_s_total && d.tg_tokens_per_s_total);
    EXPECT_DOUBLE_EQ(d.pp_tokens_per_s_total->mean, d.pp_tokens_per_s->mean);
    EXPECT_DOUBLE_EQ(d.tg_tokens_per_s_total->stdev, d.tg_tokens_per_s->stdev);
    EXPECT_FALSE(bench::depth_speeds({bench::PointResult{}}, 1).pp_tokens_per_s);
    EXPECT_FALSE(bench::depth_speeds({}, 4).pp_tokens_per_s_total);
}

TEST(BenchSummary, DepthBatchTotalsAsLlamaBenchyDefinesThem) {
    // Two batches of two. Batch 1: both sent at 0; first tokens at 20 and 40 ms, last tokens at
    // 20 + 80 = 100 and 40 + 40 = 80 ms; 11 + 11 prompt tokens over 40 ms = 550 t/s; (5 + 5 - 2)
    // tokens over 100 - 20 ms = 100 t/s.
    bench::PointResult b1;
    b1.records.push_back(record(20, 110, 5, {20, 20, 20, 20}));
    b1.records.push_back(record(40, 90, 5, {10, 10, 10, 10}));
    // Batch 2: the second request sent 10 ms late; first tokens at 10 and 10 + 10 = 20 ms, last
    // at 10 + 30 = 40 and 20 + 30 = 50 ms: 22 tokens / 20 ms = 1100 t/s, 8 tokens / 40 ms =
    // 200 t/s. A failed request counts in neither.
    bench::PointResult b2;
    b2.records.push_back(record(10, 45, 5, {10, 10, 5, 5}));
    b2.records.push_back(record(10, 45, 5, {15, 5, 5, 5}));
    b2.records.back().sent_s = 0.010;
    bench::RequestRecord failed;
    failed.error = "HTTP 500: boom";
    b2.records.push_back(failed);
    const bench::DepthSpeeds d = bench::depth_speeds({b1, b2}, 2);
    ASSERT_TRUE(d.pp_tokens_per_s_total && d.tg_tokens_per_s_total);
    EXPECT_EQ(d.pp_tokens_per_s_total->n, 2u);  // per batch
    EXPECT_DOUBLE_EQ(d.pp_tokens_per_s_total->mean, (550.0 + 1100) / 2);
    EXPECT_DOUBLE_EQ(d.pp_tokens_per_s_total->stdev, 275.0);
    EXPECT_DOUBLE_EQ(d.tg_tokens_per_s_total->mean, (100.0 + 200) / 2);
    ASSERT_TRUE(d.pp_tokens_per_s);
    EXPECT_EQ(d.pp_tokens_per_s->n, 4u);  // per request, over both batches
    EXPECT_DOUBLE_EQ(d.pp_tokens_per_s->mean, (550.0 + 275 + 1100 + 1100) / 4);
}

TEST(BenchSseEvent, TheScanReadsWhatTheFullParseReads) {
    struct Case {
        std::string data;
        bool decided;  // the scan decides it (else the full parse does)
    };
    const std::vector<Case> cases = {
        // vLLM /v1/completions chunks and the usage chunk (stream_options.include_usage).
        {R"({"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" the","logprobs":null,"finish_reason":null}],"usage":null})",
         true},
        {R"({"id":"cmpl-1","choices":[],"usage":{"prompt_tokens":12,"total_tokens":44,"completion_tokens":32}})",
         true},
        {R"({"choices":[{"delta":{"role":"assistant","content":""}}]})", true},
        {R"({"choices":[{"delta":{"content":"Hi \"there\"\n"}}]})", true},
        {R"({"choices":[{"text":""},{"text":"second choice"}]})", true},
        {R"({"choices":{"text":"not an array"}})", true},
        {R"({"choices":[{"text":"x"}],"timings":{"cache_n":3,"prompt_ms":1.25}})", true},
        {R"({"error":{"message":"boom"},"choices":[{"text":"x"}]})", true},
        {R"( {"usage":{"completion_tokens":18446744073709551615}} )", false},  // 20 digits
        {R"({"choices":[{"text":"caf\u00e9"}]})", false},
        {"{\"choices\":[{\"text\":\"caf\xc3\xa9\"}]}", false},
        {R"({"choices":[{"text":"a"}],"choices":[]})", false},  // a repeated key of interest
        {R"({"usage":{"completion_tokens":-1}})", false},
        {R"({"usage":{"completion_tokens":1e2}})", false},
        {R"({"usage":{"completion_tokens":2.0}})", false},
        {R"({"choices":[{"text":"x"}]} trailing)", false},
        {R"({"choices":[{"text":"x"}])", false},
        {R"([1,2])", false},
        {"", false},
    };
    for (const Case& c : cases) {
        const auto fast = bench::scan_event(c.data);
        EXPECT_EQ(fast.has_value(), c.decided) << c.data;
        if (fast) {
            EXPECT_EQ(*fast, bench::parse_event_reference(c.data)) << c.data;
        }
        EXPECT_EQ(bench::read_event(c.data), bench::parse_event_reference(c.data)) << c.data;
    }
    const auto text = bench::scan_event(cases[0].data);
    ASSERT_TRUE(text);
    EXPECT_TRUE(text->content);
    const auto usage = bench::scan_event(cases[1].data);
    ASSERT_TRUE(usage);
    EXPECT_FALSE(usage->content);
    EXPECT_EQ(usage->completion_tokens, 32u);
    EXPECT_EQ(usage->prompt_tokens, 12u);
    EXPECT_FALSE(bench::scan_event(cases[2].data)->content);  // an empty delta is no content
    EXPECT_TRUE(bench::scan_event(cases[3].data)->content);
    EXPECT_FALSE(bench::scan_event(cases[4].data)->content);  // only choices[0] counts
    EXPECT_EQ(bench::scan_event(cases[6].data)->cache_n, 3u);
    EXPECT_TRUE(bench::scan_event(cases[7].data)->error);
    EXPECT_FALSE(bench::scan_event(cases[7].data)->content);
    // Undecided events still read right through the full parse.
    EXPECT_EQ(bench::read_event(cases[8].data)->completion_tokens, 18446744073709551615u);
    EXPECT_TRUE(bench::read_event(cases[9].data)->content);
    EXPECT_FALSE(bench::read_event(cases[16].data));
}

TEST(BenchLoadgen, ClosedLoopAgainstTheStandinMeetsItsSchedule) {
    InProcessStandin s(Engine::vllm, false, "fixed:30,5");
    net::Client client;
    sim::Load load;
    load.concurrency = 2;
    load.prompt_tokens = {sim::Distribution::Kind::fixed, 40, 0};
    load.output_tokens = {sim::Distribution::Kind::fixed, 6, 0};
    auto specs = bench::build_specs(client, s.ep, "", Engine::vllm, "test-model", load, 6, 1, "t");
    ASSERT_TRUE(specs) << specs.error().message;
    EXPECT_TRUE(specs->tokenized);
    ASSERT_EQ(specs->specs.size(), 6u);
    bench::RunOptions o;
    o.endpoint = s.ep;
    o.model = "test-model";
    o.engine = Engine::vllm;
    o.request_timeout_ms = 20'000;
    const bench::PointResult r = bench::run_point(client, o, load, specs->specs, 1);
    ASSERT_EQ(r.records.size(), 6u);
    for (const bench::RequestRecord& rec : r.records) {
        ASSERT_TRUE(rec.ok) << rec.error;
        EXPECT_EQ(rec.output_tokens, 6u);
        EXPECT_EQ(rec.content_chunks, 6u);
        ASSERT_TRUE(rec.usage_prompt_tokens);
        EXPECT_EQ(*rec.usage_prompt_tokens, 40u);  // exact through /tokenize
        ASSERT_TRUE(rec.scheduled_ttft_ms && rec.scheduled_itl_ms);
        // Nothing arrives before the stand-in scheduled it.
        EXPECT_GE(rec.ttft_ms, *rec.scheduled_ttft_ms);
        // Chunk k (after the first) cannot arrive before ttft + k * itl of the schedule; single
        // gaps are not compared, as a loaded machine may deliver two late chunks together.
        double arrival_ms = rec.ttft_ms;
        for (std::size_t k = 0; k < rec.chunk_gap_ms.size(); ++k) {
            arrival_ms += rec.chunk_gap_ms[k];
            EXPECT_GE(arrival_ms,
                      *rec.scheduled_ttft_ms + static_cast<double>(k + 1) * *rec.scheduled_itl_ms);
        }
        EXPECT_TRUE(rec.simulated);
    }
    const bench::Summary sum = bench::summarize(r, {});
    EXPECT_EQ(sum.s.requests_completed, 6u);
    EXPECT_TRUE(sum.simulated);
}

TEST(BenchPrompts, TraceRowsOfOnePrefixIdShareItsBytes) {
    InProcessStandin s(Engine::vllm, false, "fixed:0,0");
    net::Client client;
    sim::Load load;
    load.kind = sim::Load::Kind::trace;
    // Two rows of "sys", one of 7 (another id), one without an id.
    load.trace = {
        {0, 60, 2, "sys", 40}, {0, 50, 2, "sys", 40}, {0, 60, 2, "7", 40}, {0, 60, 2, "", 0}};
    bench::RunOptions o;
    o.model = "test-model";
    auto built = [&](std::uint64_t seed, const std::string& nonce) {
        auto specs =
            bench::build_specs(client, s.ep, "", Engine::vllm, "test-model", load, 4, seed, nonce);
        EXPECT_TRUE(specs) << specs.error().message;
        std::vector<std::string> prompts;
        for (const bench::RequestSpec& spec : specs->specs) {
            prompts.push_back(nlohmann::json::parse(bench::request_body(o, spec))["prompt"]);
        }
        EXPECT_TRUE(specs->tokenized);
        return std::make_pair(*specs, prompts);
    };
    const auto [specs, prompts] = built(5, "n1");
    ASSERT_EQ(prompts.size(), 4u);
    const std::string& prefix = *specs.specs[0].prefix;
    // The same prefix bytes for the rows of "sys", then each its own tag.
    EXPECT_EQ(*specs.specs[1].prefix, prefix);
    EXPECT_EQ(prompts[0].substr(0, prefix.size()), prefix);
    EXPECT_EQ(prompts[1].substr(0, prefix.size()), prefix);
    EXPECT_NE(prompts[0].substr(prefix.size()), prompts[1].substr(prefix.size()));
    EXPECT_NE(prompts[0].substr(prefix.size(), 8), prompts[1].substr(prefix.size(), 8));
    // Another id: another prefix, not even its first word in common; no id: no prefix.
    ASSERT_TRUE(specs.specs[2].prefix);
    EXPECT_NE(prompts[2].substr(0, prompts[2].find(' ')),
              prompts[0].substr(0, prompts[0].find(' ')));
    EXPECT_FALSE(specs.specs[3].prefix);
    // Exact lengths through the stand-in's /tokenize (one token a word): the prefix alone, and
    // each whole prompt.
    const auto words = [](const std::string& t) {
        std::istringstream in(t);
        return std::distance(std::istream_iterator<std::string>(in),
                             std::istream_iterator<std::string>());
    };
    EXPECT_EQ(words(prefix), 40);
    EXPECT_EQ(words(prompts[0]), 60);
    EXPECT_EQ(words(prompts[1]), 50);
    EXPECT_EQ(words(prompts[3]), 60);
    // Drawn from the seed and the id: the same again, another seed gives other words.
    EXPECT_EQ(*built(5, "n1").first.specs[1].prefix, prefix);
    const std::string other = *built(6, "n1").first.specs[0].prefix;
    EXPECT_EQ(other.substr(0, other.find(' ')), prefix.substr(0, prefix.find(' ')));
    EXPECT_NE(other, prefix);
}

// Regression: on_done read the stream flag through a dangling reference, so under load some
// streamed responses were parsed as whole ones ("response is not a JSON object").
TEST(BenchLoadgen, ManyStreamsAtFullSpeedAllSucceed) {
    InProcessStandin s(Engine::vllm, false, "fixed:0,0");
    net::Client client;
    sim::Load load;
    load.concurrency = 16;
    load.prompt_tokens = {sim::Distribution::Kind::fixed, 4, 0};
    load.output_tokens = {sim::Distribution::Kind::fixed, 32, 0};
    auto specs =
        bench::build_specs(client, s.ep, "", Engine::vllm, "test-model", load, 300, 2, "r");
    ASSERT_TRUE(specs) << specs.error().message;
    bench::RunOptions o;
    o.endpoint = s.ep;
    o.model = "test-model";
    o.engine = Engine::vllm;
    o.request_timeout_ms = 20'000;
    const bench::PointResult r = bench::run_point(client, o, load, specs->specs, 0);
    ASSERT_EQ(r.records.size(), 300u);
    for (const bench::RequestRecord& rec : r.records) {
        ASSERT_TRUE(rec.ok) << rec.error;
        EXPECT_EQ(rec.output_tokens, 32u);
    }
}

TEST(BenchLoadgen, RefusedConnectionsAreErrorsNotHangs) {
    net::Client client;
    sim::Load load;
    load.concurrency = 2;
    std::vector<bench::RequestSpec> specs(4);
    for (auto& s : specs) s.output_tokens = 4;
    bench::RunOptions o;
    o.endpoint = bench::Endpoint{"127.0.0.1", 1, "", ""};  // nothing listens on port 1
    o.model = "m";
    o.request_timeout_ms = 5000;
    const bench::PointResult r = bench::run_point(client, o, load, specs, 0);
    ASSERT_EQ(r.records.size(), 4u);
    for (const auto& rec : r.records) EXPECT_FALSE(rec.ok);
}

}  // namespace
}  // namespace sparkctl
