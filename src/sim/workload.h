// The workload vocabulary shared by `simulate` and `bench` (design.md "Contracts"): request
// sizes, arrivals, traces, load lists and SLOs, parsed from their flag text, and the random
// generation of requests from them. Pure functions; a Sampler is one deterministic stream.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace sparkctl::sim {

// A token count: a number, `uniform:A:B`, `normal:MEAN:SD` or `lognormal:MEDIAN:SIGMA`.
struct Distribution {
    enum class Kind { fixed, uniform, normal, lognormal };
    Kind kind = Kind::fixed;
    double a = 0;  // the number, A, MEAN or MEDIAN
    double b = 0;  // B, SD or SIGMA
};
// `flag` names the input in errors ("--prompt-tokens: ...").
base::Result<Distribution> parse_distribution(std::string_view flag, std::string_view text);

// `poisson`, `gamma:CV` or `constant` interarrival times.
struct Arrivals {
    enum class Kind { poisson, gamma, constant };
    Kind kind = Kind::poisson;
    double cv = 1;  // coefficient of variation of the gaps (gamma)
};
base::Result<Arrivals> parse_arrivals(std::string_view text);

// A comma-separated list of positive numbers (`--concurrency 1,4,16`, `--rate 0.5,2`).
// `integers`: each must be a whole number.
base::Result<std::vector<double>> parse_load_list(std::string_view flag, std::string_view text,
                                                  bool integers);

// One request of a trace (JSONL: arrival_s, prompt_tokens, output_tokens, optional prefix_id
// (string or number), prefix_tokens).
struct TraceRequest {
    double arrival_s = 0;
    std::uint32_t prompt_tokens = 0;
    std::uint32_t output_tokens = 0;
    std::string prefix_id;  // "" for none
    std::uint32_t prefix_tokens = 0;
};
// Parses trace `text`; `name` is the file in errors ("trace.jsonl:3: ..."). Blank lines are
// skipped. Errors: bad_input naming file:line for a malformed line, a missing or negative field,
// prefix_tokens above prompt_tokens, or an empty trace. Sorted by arrival.
base::Result<std::vector<TraceRequest>> parse_trace(std::string_view text, std::string_view name);
// Reads and parses a trace file (errors: not_found/io for the file, then parse_trace's).
base::Result<std::vector<TraceRequest>> load_trace(const std::string& path);

// One conversation of a ShareGPT dataset (`--dataset FILE`): request sizes, and the prompt's
// text (what `bench run` sends; `simulate` uses the sizes only).
struct DatasetEntry {
    std::uint32_t prompt_tokens = 0;
    std::uint32_t output_tokens = 0;
    std::string prompt;  // the first turn's value
};
// Tokens of `text` without the model's tokenizer: ceil(code points / 4), the common estimate of
// about four characters per English token. (vllm bench serve tokenizes with the model's own
// tokenizer, which sparkctl does not carry; this is sparkctl's choice, not vLLM's.)
std::uint32_t estimate_tokens(std::string_view text);
// Parses a ShareGPT JSON document (a list of {"conversations": [{"from", "value"}, ...]}) the
// way vllm bench serve samples it (V:vllm/benchmarks/datasets.py ShareGPTDataset): entries with
// fewer than two turns are skipped; the first turn (the human's) is the prompt, the second (the
// assistant's answer) the output; pairs
// that fail is_valid_sequence (either side under 4 tokens, prompt over 1024, both over 2048) are
// skipped. `name` is the file in errors, which name the entry ("sharegpt.json: entry 3: ...").
// Errors: bad_input for invalid JSON, a document that is not a list, an entry that is not an
// object or whose conversations or turns have the wrong types, or no usable entry.
base::Result<std::vector<DatasetEntry>> parse_sharegpt(std::string_view text,
                                                       std::string_view name);
// Reads and parses a ShareGPT file (errors: not_found/io for the file, then parse_sharegpt's).
base::Result<std::vector<DatasetEntry>> load_sharegpt(const std::string& path);

// `--slo "ttft_p95<=2s,tpot_p50<=50ms"`: metric ttft, tpot, itl, e2e or queue; statistic mean,
// p50, p90, p95, p99 or p99_9; a limit with unit s or ms.
struct SloTerm {
    std::string metric;  // "ttft"
    std::string stat;    // "p95"
    double limit_ms = 0;
    std::string text;  // as given, for reports
};
base::Result<std::vector<SloTerm>> parse_slo(std::string_view text);

// One deterministic stream of request sizes and gaps for a seed.
class Sampler {
  public:
    explicit Sampler(std::uint64_t seed) : rng_(seed) {}
    // A token count of at least 1 from `d` (rounded; normal and lognormal clipped at 1).
    std::uint32_t tokens(const Distribution& d);
    // The gap to the next arrival at `rate_per_s`.
    double gap_s(const Arrivals& a, double rate_per_s);
    // Shuffles a dataset's entries (vllm bench serve shuffles ShareGPT with its seed, then takes
    // entries in order).
    void shuffle(std::vector<DatasetEntry>& entries);

  private:
    std::mt19937_64 rng_;
};

}  // namespace sparkctl::sim
