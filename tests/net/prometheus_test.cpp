#include "net/prometheus.h"

#include <gtest/gtest.h>

#include <cmath>

namespace sparkctl::net::prometheus {
namespace {

// Captured from vLLM's docs, "Production Metrics" (curl http://0.0.0.0:8000/metrics on
// `vllm serve unsloth/Llama-3.2-1B-Instruct`):
// https://docs.vllm.ai/en/v0.9.1/usage/metrics.html (also V:docs/usage/metrics.md). The gauge
// lines use the names and label of V:vllm/engine/metrics.py (vllm:num_requests_running,
// labelnames model_name).
constexpr std::string_view kVllmPage =
    "# HELP vllm:iteration_tokens_total Histogram of number of tokens per engine_step.\n"
    "# TYPE vllm:iteration_tokens_total histogram\n"
    "vllm:iteration_tokens_total_sum{model_name=\"unsloth/Llama-3.2-1B-Instruct\"} 0.0\n"
    "vllm:iteration_tokens_total_bucket{le=\"1.0\",model_name=\"unsloth/Llama-3.2-1B-Instruct\"} "
    "3.0\n"
    "vllm:iteration_tokens_total_bucket{le=\"8.0\",model_name=\"unsloth/Llama-3.2-1B-Instruct\"} "
    "3.0\n"
    "# HELP vllm:num_requests_running Number of requests currently running on GPU.\n"
    "# TYPE vllm:num_requests_running gauge\n"
    "vllm:num_requests_running{model_name=\"x\"} 3\n";

// The shape llama-server writes: LC:tools/server/server.cpp, the /metrics handler emits
// "# HELP llamacpp:<name> <help>", "# TYPE llamacpp:<name> <type>", "llamacpp:<name> <value>"
// (names and help texts listed in LC:tools/server/README.md, "GET /metrics").
constexpr std::string_view kLlamaCppPage =
    "# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.\n"
    "# TYPE llamacpp:prompt_tokens_total counter\n"
    "llamacpp:prompt_tokens_total 0\n"
    "# HELP llamacpp:prompt_seconds_total Prompt process time\n"
    "# TYPE llamacpp:prompt_seconds_total counter\n"
    "llamacpp:prompt_seconds_total 0\n";

TEST(PrometheusParse, VllmPage) {
    auto samples = parse_text(kVllmPage, "vllm /metrics");
    ASSERT_TRUE(samples.ok()) << samples.error().message;
    ASSERT_EQ(samples->size(), 4u);
    EXPECT_EQ((*samples)[1].name, "vllm:iteration_tokens_total_bucket");
    ASSERT_EQ((*samples)[1].labels.size(), 2u);
    EXPECT_EQ((*samples)[1].labels[0], (std::pair<std::string, std::string>{"le", "1.0"}));
    EXPECT_EQ((*samples)[1].labels[1].second, "unsloth/Llama-3.2-1B-Instruct");
    EXPECT_EQ(find_value(*samples, "vllm:num_requests_running", {{"model_name", "x"}}), 3.0);
    EXPECT_EQ(find_value(*samples, "vllm:num_requests_running", {{"model_name", "y"}}),
              std::nullopt);
    EXPECT_EQ(find_value(*samples, "vllm:iteration_tokens_total_bucket", {{"le", "8.0"}}), 3.0);
}

TEST(PrometheusParse, LlamaCppPage) {
    auto samples = parse_text(kLlamaCppPage, "llama-server /metrics");
    ASSERT_TRUE(samples.ok()) << samples.error().message;
    ASSERT_EQ(samples->size(), 2u);
    EXPECT_EQ(find_value(*samples, "llamacpp:prompt_tokens_total"), 0.0);
    EXPECT_TRUE((*samples)[0].labels.empty());
}

TEST(PrometheusParse, EscapesSpecialValuesTimestampsAndCrLf) {
    auto samples = parse_text(
        "a{path=\"C:\\\\dir\",msg=\"say \\\"hi\\\"\\nbye\",} +Inf 1700000000000\r\n"
        "b -Inf\nc NaN\n  d\t1.5e3\n",
        "page");
    ASSERT_TRUE(samples.ok()) << samples.error().message;
    ASSERT_EQ(samples->size(), 4u);
    EXPECT_EQ((*samples)[0].labels[0].second, "C:\\dir");
    EXPECT_EQ((*samples)[0].labels[1].second, "say \"hi\"\nbye");
    EXPECT_TRUE(std::isinf((*samples)[0].value) && (*samples)[0].value > 0);
    EXPECT_EQ((*samples)[0].timestamp_ms, 1700000000000);
    EXPECT_TRUE(std::isinf((*samples)[1].value) && (*samples)[1].value < 0);
    EXPECT_TRUE(std::isnan((*samples)[2].value));
    EXPECT_EQ((*samples)[3].value, 1500);
}

TEST(PrometheusParse, MalformedLinesNameTheLine) {
    for (const char* bad : {"x{a=\"1\" 2\n", "x{a=1} 2\n", "x 12abc\n", "{a=\"1\"} 2\n",
                            "x{a=\"1\\q\"} 2\n", "x{a=\"1\"} 2 3 4\n", "x\n"}) {
        auto r = parse_text(std::string("ok 1\n") + bad, "engine /metrics");
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_EQ(r.error().code, base::Errc::bad_input);
        EXPECT_NE(r.error().message.find("engine /metrics: line 2: "), std::string::npos)
            << r.error().message;
    }
}

TEST(PrometheusWrite, CounterGaugeAndHistogramRoundTrip) {
    TextWriter w;
    w.family("sparkctl_requests_total", MetricType::counter, "Requests served.\nAll of them.");
    w.sample("sparkctl_requests_total", {{"model", "a\"b\\c\nd"}}, 12);
    w.family("sparkctl_running", MetricType::gauge, "Running now.");
    w.sample("sparkctl_running", {}, 0.5);
    Histogram h({0.5, 1});
    h.observe(0.25);
    h.observe(0.5);  // le is inclusive
    h.observe(0.75);
    h.observe(8);
    w.family("sparkctl_ttft_seconds", MetricType::histogram, "Time to first token.");
    w.histogram("sparkctl_ttft_seconds", {{"model", "m"}}, h);
    EXPECT_EQ(w.text(),
              "# HELP sparkctl_requests_total Requests served.\\nAll of them.\n"
              "# TYPE sparkctl_requests_total counter\n"
              "sparkctl_requests_total{model=\"a\\\"b\\\\c\\nd\"} 12\n"
              "# HELP sparkctl_running Running now.\n"
              "# TYPE sparkctl_running gauge\n"
              "sparkctl_running 0.5\n"
              "# HELP sparkctl_ttft_seconds Time to first token.\n"
              "# TYPE sparkctl_ttft_seconds histogram\n"
              "sparkctl_ttft_seconds_bucket{model=\"m\",le=\"0.5\"} 2\n"
              "sparkctl_ttft_seconds_bucket{model=\"m\",le=\"1\"} 3\n"
              "sparkctl_ttft_seconds_bucket{model=\"m\",le=\"+Inf\"} 4\n"
              "sparkctl_ttft_seconds_sum{model=\"m\"} 9.5\n"
              "sparkctl_ttft_seconds_count{model=\"m\"} 4\n");
    auto back = parse_text(w.text(), "written page");
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(find_value(*back, "sparkctl_requests_total").value_or(-1), 12);
    EXPECT_EQ((*back)[0].labels[0].second, "a\"b\\c\nd");
    EXPECT_EQ(find_value(*back, "sparkctl_ttft_seconds_bucket", {{"le", "+Inf"}}), 4);
}

TEST(PrometheusWrite, FormatValue) {
    EXPECT_EQ(format_value(3), "3");
    EXPECT_EQ(format_value(0.1), "0.1");
    EXPECT_EQ(format_value(HUGE_VAL), "+Inf");
    EXPECT_EQ(format_value(-HUGE_VAL), "-Inf");
    EXPECT_EQ(format_value(std::nan("")), "NaN");
}

}  // namespace
}  // namespace sparkctl::net::prometheus
