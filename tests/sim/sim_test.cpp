// The simulator on hand-computable cases, the step-cost API against the performance model it
// tabulates, the workload vocabulary's parsers, and the sweep plot.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "fit/performance.h"
#include "fit/step_cost.h"
#include "net/stats.h"
#include "sim/report.h"
#include "sim/simulator.h"
#include "sim/workload.h"

namespace sparkctl::sim {
namespace {

fit::HwCaps toy_hw() {
    fit::HwCaps h;
    h.memory_bandwidth_bytes_per_s = 100e9;
    h.reference_flops_per_s = 1e15;
    h.memory_total_bytes = 128ull << 30;
    return h;
}

// A small MoE: 1 GB dense, 8 GB of 64 experts (4 per token), two full-attention layers and one
// sliding layer (window 100), so every term of the model is exercised.
fit::ModelCosts toy_model() {
    fit::ModelCosts m;
    m.n_layers = 3;
    m.hidden = 1000;
    m.dense_weight_bytes = 1e9;
    m.expert_weight_bytes = 8e9;
    m.n_experts = 64;
    m.n_experts_per_token = 4;
    m.dense_flops_per_token = 2e9;
    m.expert_flops_per_token = 1e9;
    m.output_flops_per_token = 1e8;
    for (int i = 0; i < 2; ++i) {
        fit::LayerCosts l;
        l.kv_bytes_per_token = 1000;
        l.attn_flops_per_ctx_token = 1e4;
        m.layers.push_back(l);
    }
    fit::LayerCosts s;
    s.kind = model::LayerKind::sliding_attention;
    s.kv_bytes_per_token = 1000;
    s.attn_flops_per_ctx_token = 1e4;
    s.window = 100;
    m.layers.push_back(s);
    return m;
}

fit::PerfConstants toy_constants() {
    fit::PerfConstants c;
    c.weights_bw_eff = 0.8;
    c.gemm_eff = 0.3;
    c.kv_bw_eff = 0.7;
    c.attn_eff = 0.2;
    c.moe_half_tokens = 64;
    c.layer_overhead_s = 1e-4;
    c.expert_overlap = 0.1;
    c.seq_overhead_s = 2e-5;
    return c;
}

fit::StepCost make_cost(std::uint32_t seqs = 64, std::uint32_t chunk = 2048) {
    auto s = fit::StepCost::make(toy_model(), toy_constants(), toy_hw(), 1, seqs, chunk);
    EXPECT_TRUE(s.ok());
    return *s;
}

EngineSettings vllm_engine(std::uint32_t seqs, std::uint64_t pool_tokens) {
    EngineSettings e;
    e.scheduler = Scheduler::vllm;
    e.context = 4096;
    e.max_seqs = seqs;
    e.max_batched_tokens = 2048;
    e.kv_pool_tokens = pool_tokens;
    e.block_size = 16;
    return e;
}

Load closed(std::uint32_t users, std::uint32_t prompt, std::uint32_t output,
            std::uint64_t requests) {
    Load l;
    l.kind = Load::Kind::closed;
    l.concurrency = users;
    l.prompt_tokens.a = prompt;
    l.output_tokens.a = output;
    l.requests = requests;
    return l;
}

TEST(StepCost, EqualsThePerformanceModel) {
    const fit::ModelCosts m = toy_model();
    const fit::PerfConstants c = toy_constants();
    const fit::StepCost cost = make_cost();
    for (std::uint32_t n : {1u, 2u, 7u, 64u}) {
        for (double d : {0.0, 50.0, 100.0, 3000.0}) {
            const double want = fit::decode_step(m, c, toy_hw(), n, d, 1).total();
            EXPECT_NEAR(cost.decode_s(n, n * d), want, 1e-12 * want) << n << " at " << d;
        }
    }
    for (std::uint32_t p : {1u, 17u, 512u, 2048u}) {
        for (double d : {0.0, 40.0, 5000.0}) {
            const double want = fit::prefill_time_s(m, c, toy_hw(), 1, p, d, p, 1);
            EXPECT_NEAR(cost.prefill_s(p, p * (d + p / 2.0)), want, 1e-9 * want) << p << "@" << d;
        }
    }
    // A mixed step reads the weights once: less than its parts apart, more than either.
    const double d = cost.decode_s(8, 8 * 1000.0);
    const double pf = cost.prefill_s(512, 512 * 256.0);
    const double mixed = cost.step_s(8, 8 * 1000.0, 512, 512 * 256.0);
    EXPECT_LT(mixed, d + pf);
    EXPECT_GT(mixed, std::max(d, pf));
}

TEST(StepCost, RejectsHardwareWithoutComputePeak) {
    fit::HwCaps h = toy_hw();
    h.reference_flops_per_s.reset();
    EXPECT_FALSE(fit::StepCost::make(toy_model(), toy_constants(), h, 1, 4, 512).ok());
}

// One request: TTFT is fit's prefill prediction, then one token per decode step, so TPOT is
// fit's ITL at the request's mean decode depth (the model is linear in depth past the window).
TEST(Simulator, OneRequestMatchesFitsPrediction) {
    const fit::StepCost cost = make_cost();
    auto r = simulate(cost, vllm_engine(4, 1 << 16), closed(1, 1000, 101, 1));
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ(r->requests_completed, 1u);
    fit::ResolvedConstants rc;
    rc.constants = toy_constants();
    fit::PerfRequest pr;
    pr.prompt = 1000;
    pr.ubatch = 2048;
    auto first = fit::predict(toy_model(), rc, toy_hw(), engines::Engine::vllm, pr);
    ASSERT_TRUE(first.ok());
    EXPECT_NEAR(r->ttft_ms[0], *first->ttft_ms, 1e-6);
    // Decode steps at depths 1000 .. 1099: mean 1049.5.
    pr.depth = 1049;
    auto lo = fit::predict(toy_model(), rc, toy_hw(), engines::Engine::vllm, pr);
    pr.depth = 1050;
    auto hi = fit::predict(toy_model(), rc, toy_hw(), engines::Engine::vllm, pr);
    ASSERT_TRUE(lo.ok() && hi.ok());
    EXPECT_NEAR(r->tpot_ms[0], (lo->itl_ms + hi->itl_ms) / 2, 1e-9);
    EXPECT_EQ(r->steps, 101u);  // one prefill step, 100 decode steps
    auto itl = summarize_runs(r->itl_ms_runs);
    ASSERT_TRUE(itl.ok());
    EXPECT_EQ(itl->count, 100u);
    EXPECT_EQ(r->output_tokens, 101u);
}

// A prompt longer than the step budget is prefilled in chunks, each priced at its own depth.
TEST(Simulator, ChunkedPrefillSplitsALongPrompt) {
    const fit::StepCost cost = make_cost();
    EngineSettings e = vllm_engine(4, 1 << 16);
    e.max_batched_tokens = 256;
    auto r = simulate(cost, e, closed(1, 1000, 1, 1));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->steps, 4u);  // 256 + 256 + 256 + 232
    double want = 0;
    for (double d : {0.0, 256.0, 512.0}) want += cost.prefill_s(256, 256 * (d + 128));
    want += cost.prefill_s(232, 232 * (768 + 116));
    EXPECT_NEAR(r->ttft_ms[0], 1000 * want, 1e-9);
    EXPECT_TRUE(r->tpot_ms.empty());  // one output token: no TPOT
}

// Two requests whose KV cannot both fit the pool: the newer one is preempted (recompute) and
// both still finish with every token.
TEST(Simulator, FullPoolPreemptsByRecompute) {
    const fit::StepCost cost = make_cost();
    // 64 tokens of pool (4 blocks); each request grows to 16 + 40 = 56 tokens.
    auto r = simulate(cost, vllm_engine(2, 64), closed(2, 16, 40, 2));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->requests_completed, 2u);
    EXPECT_EQ(r->output_tokens, 80u);
    EXPECT_GE(r->preemptions, 1u);
    EXPECT_DOUBLE_EQ(r->kv_pool_peak_fraction, 1.0);
    // With room for both, nothing is preempted.
    auto roomy = simulate(cost, vllm_engine(2, 1024), closed(2, 16, 40, 2));
    ASSERT_TRUE(roomy.ok());
    EXPECT_EQ(roomy->preemptions, 0u);
    EXPECT_LT(roomy->simulated_s, r->simulated_s);
}

// SGLang retracts the same way; a retracted request whose recompute is longer than the step
// budget comes back in chunks, not as one oversized "decode".
TEST(Simulator, SglangRetractsAndRecomputesInChunks) {
    const fit::StepCost cost = make_cost();
    EngineSettings e = vllm_engine(2, 100);
    e.scheduler = Scheduler::sglang;
    e.block_size = 1;
    e.max_batched_tokens = 16;
    // Each grows to 90 tokens; the pair fills the pool near 50 each, and the retracted one
    // recomputes ~50 tokens: 16 + 16 + 16 + the rest.
    auto r = simulate(cost, e, closed(2, 10, 80, 2));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->requests_completed, 2u);
    EXPECT_EQ(r->output_tokens, 160u);
    EXPECT_GE(r->preemptions, 1u);
    EXPECT_LE(r->max_step_tokens, 16u);
}

// llama.cpp with one slot: requests queue, each waiting for the one before to finish.
TEST(Simulator, LlamaCppSlotsQueue) {
    const fit::StepCost cost = make_cost();
    EngineSettings e;
    e.scheduler = Scheduler::llama_cpp;
    e.context = 4096;
    e.max_seqs = 1;
    e.max_batched_tokens = 512;
    e.block_size = 1;
    auto r = simulate(cost, e, closed(3, 100, 10, 3));
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ(r->queue_ms.size(), 3u);
    // Completion order: the first waits 0, the second the first's e2e, the third both.
    EXPECT_DOUBLE_EQ(r->queue_ms[0], 0);
    EXPECT_NEAR(r->queue_ms[1], r->e2e_ms[0], 1e-9);
    EXPECT_NEAR(r->queue_ms[2], r->e2e_ms[0] + r->e2e_ms[1] - r->queue_ms[1], 1e-9);
    // Two slots: no one waits for two requests.
    e.max_seqs = 2;
    auto two = simulate(cost, e, closed(2, 100, 10, 2));
    ASSERT_TRUE(two.ok());
    EXPECT_DOUBLE_EQ(two->queue_ms[1], 0);
}

TEST(Simulator, PrefixCachingHitsASharedPrefix) {
    const fit::StepCost cost = make_cost();
    auto trace = parse_trace(
        "{\"arrival_s\": 0, \"prompt_tokens\": 500, \"output_tokens\": 4, \"prefix_id\": \"sys\", "
        "\"prefix_tokens\": 400}\n"
        "{\"arrival_s\": 10, \"prompt_tokens\": 500, \"output_tokens\": 4, \"prefix_id\": \"sys\", "
        "\"prefix_tokens\": 400}\n",
        "t.jsonl");
    ASSERT_TRUE(trace.ok());
    Load l;
    l.kind = Load::Kind::trace;
    l.trace = *trace;
    EngineSettings e = vllm_engine(4, 1 << 16);
    e.prefix_caching = true;
    auto on = simulate(cost, e, l);
    ASSERT_TRUE(on.ok());
    EXPECT_EQ(on->prefix_hit_tokens, 400u);  // 25 whole blocks, the second request only
    EXPECT_LT(on->ttft_ms[1], on->ttft_ms[0]);
    e.prefix_caching = false;
    auto off = simulate(cost, e, l);
    ASSERT_TRUE(off.ok());
    EXPECT_EQ(off->prefix_lookups, 0u);
    EXPECT_NEAR(off->ttft_ms[1], off->ttft_ms[0], 1e-9);
}

TEST(Simulator, SameSeedSameResult) {
    const fit::StepCost cost = make_cost();
    Load l;
    l.kind = Load::Kind::open;
    l.rate_per_s = 5;
    l.prompt_tokens = *parse_distribution("p", "lognormal:300:0.5");
    l.output_tokens = *parse_distribution("o", "uniform:10:50");
    l.requests = 200;
    l.seed = 7;
    auto a = simulate(cost, vllm_engine(16, 1 << 16), l);
    auto b = simulate(cost, vllm_engine(16, 1 << 16), l);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->e2e_ms, b->e2e_ms);
    EXPECT_EQ(a->simulated_s, b->simulated_s);
    l.seed = 8;
    auto c = simulate(cost, vllm_engine(16, 1 << 16), l);
    ASSERT_TRUE(c.ok());
    EXPECT_NE(a->e2e_ms, c->e2e_ms);
}

TEST(Simulator, SglangDoesNotMixPrefillAndDecode) {
    const fit::StepCost cost = make_cost();
    EngineSettings e = vllm_engine(4, 1 << 16);
    e.scheduler = Scheduler::sglang;
    e.block_size = 1;
    auto r = simulate(cost, e, closed(2, 100, 20, 2));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->requests_completed, 2u);
    // Both prompts in one prefill step, then 19 decode steps of the pair.
    EXPECT_EQ(r->steps, 20u);
}

TEST(Report, RunsSummarizeLikeTheExpandedSamples) {
    std::vector<std::pair<double, std::uint64_t>> runs{{5, 3}, {1, 2}, {9, 1}, {5, 4}};
    std::vector<double> flat;
    for (const auto& [v, n] : runs) flat.insert(flat.end(), n, v);
    auto a = summarize_runs(runs);
    auto b = net::summarize(flat);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->count, b->count);
    EXPECT_DOUBLE_EQ(a->mean, b->mean);
    EXPECT_DOUBLE_EQ(a->p50, b->p50);
    EXPECT_DOUBLE_EQ(a->p90, b->p90);
    EXPECT_DOUBLE_EQ(a->p99_9, b->p99_9);
    EXPECT_FALSE(summarize_runs({}).ok());
}

TEST(Report, SloChecksTheNamedStatistic) {
    Result r;
    r.ttft_ms = {100, 200, 300, 400};
    const Summary s = summarize(r);
    auto slo = parse_slo("ttft_p50<=250ms");
    ASSERT_TRUE(slo.ok());
    EXPECT_TRUE(slo_met(s, *slo, nullptr));
    slo = parse_slo("ttft_p99<=0.3s");
    ASSERT_TRUE(slo.ok());
    std::string why;
    EXPECT_FALSE(slo_met(s, *slo, &why));
    EXPECT_NE(why.find("ttft_p99<=0.3s"), std::string::npos) << why;
    slo = parse_slo("tpot_p50<=1s");  // no TPOT samples: not met
    ASSERT_TRUE(slo.ok());
    EXPECT_FALSE(slo_met(s, *slo, nullptr));
}

// Tags balanced and the root an <svg> element: a small well-formedness check.
TEST(Report, SweepSvgIsWellFormed) {
    const std::string svg =
        sweep_svg("a <b> & c", "concurrency", {{1, 40, 40}, {4, 120, 30}, {16, 300, 19}});
    ASSERT_EQ(svg.rfind("<svg ", 0), 0u);
    std::vector<std::string> open;
    for (std::size_t i = svg.find('<'); i != std::string::npos; i = svg.find('<', i + 1)) {
        const std::size_t end = svg.find('>', i);
        ASSERT_NE(end, std::string::npos);
        const std::string tag = svg.substr(i + 1, end - i - 1);
        ASSERT_EQ(tag.find('<'), std::string::npos) << "unescaped '<' in " << tag;
        if (tag[0] == '/') {
            ASSERT_FALSE(open.empty());
            EXPECT_EQ(open.back(), tag.substr(1));
            open.pop_back();
        } else if (tag.back() != '/') {
            open.push_back(tag.substr(0, tag.find(' ')));
        }
    }
    EXPECT_TRUE(open.empty());
    EXPECT_NE(svg.find("a &lt;b&gt; &amp; c"), std::string::npos);
    EXPECT_EQ(std::count(svg.begin(), svg.end(), '\n') > 5, true);
}

TEST(Workload, ParsesDistributions) {
    auto d = parse_distribution("--prompt-tokens", "normal:512:64");
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->kind, Distribution::Kind::normal);
    EXPECT_EQ(parse_distribution("x", "128")->a, 128);
    for (const char* bad : {"0", "-3", "abc", "uniform:5:2", "normal:1", "zipf:1:2",
                            "lognormal:100:-1", "uniform:a:b", ""}) {
        auto r = parse_distribution("--prompt-tokens", bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_NE(r.error().message.find("--prompt-tokens"), std::string::npos);
    }
    Sampler s(1);
    const Distribution u = *parse_distribution("x", "uniform:10:12");
    for (int i = 0; i < 100; ++i) {
        const auto t = s.tokens(u);
        EXPECT_GE(t, 10u);
        EXPECT_LE(t, 12u);
    }
}

TEST(Workload, ParsesArrivalsLoadsAndSlo) {
    EXPECT_EQ(parse_arrivals("gamma:2")->cv, 2);
    EXPECT_EQ(parse_arrivals("constant")->kind, Arrivals::Kind::constant);
    EXPECT_FALSE(parse_arrivals("gamma:0").ok());
    EXPECT_FALSE(parse_arrivals("bursty").ok());
    EXPECT_EQ(*parse_load_list("--concurrency", "1,4,16", true), (std::vector<double>{1, 4, 16}));
    EXPECT_FALSE(parse_load_list("--concurrency", "1,2.5", true).ok());
    EXPECT_FALSE(parse_load_list("--rate", "0", false).ok());
    EXPECT_FALSE(parse_load_list("--rate", "1,,2", false).ok());
    auto slo = parse_slo("ttft_p95<=2s, tpot_p50<=50ms,e2e_p99_9<=1.5s");
    ASSERT_TRUE(slo.ok());
    ASSERT_EQ(slo->size(), 3u);
    EXPECT_EQ((*slo)[0].limit_ms, 2000);
    EXPECT_EQ((*slo)[1].metric, "tpot");
    EXPECT_EQ((*slo)[2].stat, "p99_9");
    EXPECT_EQ((*slo)[2].limit_ms, 1500);
    for (const char* bad : {"ttft<=2s", "ttft_p95<2s", "ttft_p42<=2s", "speed_p50<=1s",
                            "ttft_p95<=2", "ttft_p95<=-1s"}) {
        EXPECT_FALSE(parse_slo(bad).ok()) << bad;
    }
}

TEST(Workload, TraceErrorsNameFileAndLine) {
    auto ok = parse_trace(
        "{\"arrival_s\": 2, \"prompt_tokens\": 10, \"output_tokens\": 5}\n\n"
        "{\"arrival_s\": 1, \"prompt_tokens\": 20, \"output_tokens\": 5, \"prefix_id\": 3, "
        "\"prefix_tokens\": 8}\n",
        "t.jsonl");
    ASSERT_TRUE(ok.ok());
    ASSERT_EQ(ok->size(), 2u);
    EXPECT_EQ((*ok)[0].arrival_s, 1);  // sorted by arrival
    EXPECT_EQ((*ok)[0].prefix_id, "3");
    const std::pair<const char*, const char*> bad[] = {
        {"{\"arrival_s\": 0, \"prompt_tokens\": 1, \"output_tokens\": 1}\nnot json\n", "t:2:"},
        {"{\"prompt_tokens\": 1, \"output_tokens\": 1}", "t:1: missing 'arrival_s'"},
        {"{\"arrival_s\": -1, \"prompt_tokens\": 1, \"output_tokens\": 1}", "t:1:"},
        {"{\"arrival_s\": 0, \"prompt_tokens\": 0, \"output_tokens\": 1}", "t:1:"},
        {"{\"arrival_s\": 0, \"prompt_tokens\": 5, \"output_tokens\": 1, \"prefix_tokens\": 9}",
         "exceeds"},
        {"{\"arrival_s\": 0, \"prompt_tokens\": 5, \"output_tokens\": 1, \"prefix_id\": \"a\"}",
         "without"},
        {"[1, 2]", "t:1: not a JSON object"},
        {"\n\n", "t: no requests"},
    };
    for (const auto& [text, want] : bad) {
        auto r = parse_trace(text, "t");
        ASSERT_FALSE(r.ok()) << text;
        EXPECT_NE(r.error().message.find(want), std::string::npos) << r.error().message;
    }
}

// ShareGPT: first turn the prompt, second the output, characters / 4 tokens, vLLM's filters.
TEST(Workload, ShareGptEntriesAsVllmSamplesThem) {
    EXPECT_EQ(estimate_tokens(""), 0u);
    EXPECT_EQ(estimate_tokens("abcd"), 1u);
    EXPECT_EQ(estimate_tokens("abcde"), 2u);
    EXPECT_EQ(estimate_tokens("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"), 1u);  // four code points
    const std::string p40(160, 'p'), o20(80, 'o'), tiny(8, 't'), huge(4100, 'h');
    auto turn = [](const std::string& from, const std::string& v) {
        return "{\"from\": \"" + from + "\", \"value\": \"" + v + "\"}";
    };
    const std::string doc = "[{\"conversations\": [" + turn("human", p40) + ", " +
                            turn("gpt", o20) + ", " + turn("human", tiny) +
                            "]},"
                            "{\"conversations\": [" +
                            turn("human", p40) +
                            "]},"  // one turn: skipped
                            "{\"conversations\": [" +
                            turn("human", tiny) + ", " + turn("gpt", o20) +
                            "]},"  // prompt under 4 tokens: skipped
                            "{\"conversations\": [" +
                            turn("human", huge) + ", " + turn("gpt", o20) +
                            "]}]";  // prompt over 1024 tokens: skipped
    auto ds = parse_sharegpt(doc, "sg.json");
    ASSERT_TRUE(ds.ok()) << ds.error().message;
    ASSERT_EQ(ds->size(), 1u);
    EXPECT_EQ((*ds)[0].prompt_tokens, 40u);
    EXPECT_EQ((*ds)[0].output_tokens, 20u);

    const std::vector<std::pair<std::string, std::string>> bad = {
        {"{", "sg.json: not valid JSON"},
        {"{}", "expected a JSON list"},
        {"[1]", "sg.json: entry 0: not a JSON object"},
        {"[{\"conversations\": [" + turn("human", p40) + ", " + turn("gpt", o20) + "]}, {}]",
         "sg.json: entry 1: 'conversations' must be a list"},
        {"[{\"conversations\": [{\"value\": 3}, {\"value\": \"x\"}]}]",
         "entry 0: turn 0 must be an object with a string 'value'"},
        {"[]", "sg.json: no usable conversation"},
    };
    for (const auto& [text, want] : bad) {
        auto r = parse_sharegpt(text, "sg.json");
        ASSERT_FALSE(r.ok()) << text;
        EXPECT_NE(r.error().message.find(want), std::string::npos) << r.error().message;
    }
}

// Sizes come from the dataset, in order and cycling: ten requests over two entries.
TEST(Simulator, DatasetSetsTheRequestSizes) {
    const fit::StepCost cost = make_cost();
    Load l;
    l.kind = Load::Kind::closed;
    l.concurrency = 2;
    l.requests = 10;
    l.dataset = {{100, 10, ""}, {300, 30, ""}};
    auto r = simulate(cost, vllm_engine(16, 1 << 16), l);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->requests_completed, 10u);
    EXPECT_EQ(r->input_tokens, 5u * (100 + 300));
    EXPECT_EQ(r->output_tokens, 5u * (10 + 30));
}

}  // namespace
}  // namespace sparkctl::sim
