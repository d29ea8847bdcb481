#include "bench/summary.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace sparkctl::bench {

namespace {

std::optional<net::Stats> stats_of(std::vector<double> v) {
    if (v.empty()) return std::nullopt;
    auto s = net::summarize(std::move(v));
    if (!s) return std::nullopt;
    return *s;
}

// The value of a request's own metric that an SLO term limits.
std::optional<double> own_value(const RequestRecord& r, const sim::SloTerm& t) {
    if (t.metric == "ttft") return r.ttft_ms;
    if (t.metric == "e2e") return r.e2e_ms;
    if (t.metric == "queue") return r.queue_ms;
    if (r.output_tokens < 2) return std::nullopt;  // tpot, itl: no second token
    return (r.e2e_ms - r.ttft_ms) / double(r.output_tokens - 1);
}

// Output tokens per chunk gap: more than one when chunks carry several tokens.
double tokens_per_gap(const RequestRecord& r) {
    return r.output_tokens > 1 ? double(r.output_tokens - 1) / double(r.chunk_gap_ms.size()) : 1.0;
}

}  // namespace

Summary summarize(const PointResult& point, const std::vector<sim::SloTerm>& slo) {
    Summary out;
    std::vector<double> ttft, tpot, itl, e2e, queue, gaps, sched_ttft, sched_itl;
    std::vector<double> deviation;
    std::set<std::string> seen_errors;
    std::uint64_t good = 0;
    bool itl_is_gaps = true;  // one token per chunk everywhere: the same samples, sorted once
    bool all_simulated = !point.records.empty();
    std::size_t all_gaps = 0;
    for (const RequestRecord& r : point.records) all_gaps += r.ok ? r.chunk_gap_ms.size() : 0;
    gaps.reserve(all_gaps);
    for (const RequestRecord& r : point.records) {
        all_simulated = all_simulated && r.simulated;
        if (!r.ok) {
            ++out.errors;
            if (out.error_samples.size() < 5 && seen_errors.insert(r.error).second) {
                out.error_samples.push_back(r.error);
            }
            continue;
        }
        ++out.s.requests_completed;
        out.output_tokens += r.output_tokens;
        out.prompt_tokens += r.usage_prompt_tokens.value_or(r.prompt_tokens_built);
        ttft.push_back(r.ttft_ms);
        e2e.push_back(r.e2e_ms);
        queue.push_back(r.queue_ms);
        if (r.output_tokens > 1)
            tpot.push_back((r.e2e_ms - r.ttft_ms) / double(r.output_tokens - 1));
        gaps.insert(gaps.end(), r.chunk_gap_ms.begin(), r.chunk_gap_ms.end());
        if (!r.chunk_gap_ms.empty() && tokens_per_gap(r) != 1.0) itl_is_gaps = false;
        if (r.usage_prompt_tokens && r.prompt_tokens_built > 0) {
            deviation.push_back((double(*r.usage_prompt_tokens) - r.prompt_tokens_built) /
                                r.prompt_tokens_built);
        }
        if (r.cache_n) out.cache_n_total = out.cache_n_total.value_or(0) + *r.cache_n;
        if (r.scheduled_ttft_ms) sched_ttft.push_back(*r.scheduled_ttft_ms);
        if (r.scheduled_itl_ms) sched_itl.push_back(*r.scheduled_itl_ms);
        bool meets = true;
        for (const sim::SloTerm& t : slo) {
            const auto v = own_value(r, t);
            if (v && *v > t.limit_ms) meets = false;
        }
        if (meets) ++good;
    }
    if (!itl_is_gaps) {
        itl.reserve(gaps.size());
        for (const RequestRecord& r : point.records) {
            if (!r.ok || r.chunk_gap_ms.empty()) continue;
            const double per_gap = tokens_per_gap(r);
            for (double g : r.chunk_gap_ms) itl.push_back(g / std::max(per_gap, 1e-9));
        }
    }
    out.simulated = all_simulated;
    out.s.ttft_ms = stats_of(std::move(ttft));
    out.s.tpot_ms = stats_of(std::move(tpot));
    out.chunk_gap_ms = stats_of(std::move(gaps));
    out.s.itl_ms = itl_is_gaps ? out.chunk_gap_ms : stats_of(std::move(itl));
    out.s.e2e_ms = stats_of(std::move(e2e));
    out.s.queue_ms = stats_of(std::move(queue));
    out.scheduled_ttft_ms = stats_of(std::move(sched_ttft));
    out.scheduled_itl_ms = stats_of(std::move(sched_itl));
    out.duration_s = point.duration_s;
    if (point.duration_s > 0) {
        out.s.output_tokens_per_s = double(out.output_tokens) / point.duration_s;
        out.s.total_tokens_per_s = double(out.output_tokens + out.prompt_tokens) / point.duration_s;
        out.s.requests_per_s = double(out.s.requests_completed) / point.duration_s;
        if (!slo.empty()) out.goodput_requests_per_s = double(good) / point.duration_s;
    }
    if (out.s.tpot_ms && out.s.tpot_ms->mean > 0) {
        out.s.output_tokens_per_s_per_user = 1000 / out.s.tpot_ms->mean;
    }
    if (!deviation.empty()) {
        double sum = 0, mx = 0;
        for (double d : deviation) {
            sum += std::abs(d);
            mx = std::max(mx, std::abs(d));
        }
        out.prompt_tokens_deviation_mean = sum / double(deviation.size());
        out.prompt_tokens_deviation_max = mx;
    }
    return out;
}

namespace {

// Mean and population standard deviation (np.mean, np.std).
std::optional<Speed> speed_of(const std::vector<double>& v) {
    if (v.empty()) return std::nullopt;
    Speed s;
    s.n = v.size();
    for (double x : v) s.mean += x / double(v.size());
    double var = 0;
    for (double x : v) var += (x - s.mean) * (x - s.mean) / double(v.size());
    s.stdev = std::sqrt(var);
    return s;
}

double prompt_of(const RequestRecord& r) {
    return double(r.usage_prompt_tokens.value_or(r.prompt_tokens_built));
}

void request_speeds(const PointResult& point, std::vector<double>& pp, std::vector<double>& tg) {
    for (const RequestRecord& r : point.records) {
        if (!r.ok || r.content_chunks == 0) continue;
        if (r.ttft_ms > 0) pp.push_back(prompt_of(r) / (r.ttft_ms / 1000));
        const double decode_ms = r.e2e_ms - r.ttft_ms;
        if (r.output_tokens > 1 && decode_ms > 0) {
            tg.push_back(double(r.output_tokens - 1) / (decode_ms / 1000));
        }
    }
}

}  // namespace

DepthSpeeds depth_speeds(const std::vector<PointResult>& batches, std::uint32_t concurrency) {
    std::vector<double> pp, tg, pp_total, tg_total;
    for (const PointResult& b : batches) {
        request_speeds(b, pp, tg);
        // Seconds from the batch's start: sends, first and last content chunks.
        std::optional<double> first_send, first_token, last_first_token, last_token;
        double prompt = 0, output = 0, requests = 0;
        for (const RequestRecord& r : b.records) {
            if (!r.ok || r.content_chunks == 0) continue;
            double last_ms = r.ttft_ms;
            for (double g : r.chunk_gap_ms) last_ms += g;
            const double first_s = r.sent_s + r.ttft_ms / 1000;
            first_send = std::min(first_send.value_or(r.sent_s), r.sent_s);
            first_token = std::min(first_token.value_or(first_s), first_s);
            last_first_token = std::max(last_first_token.value_or(first_s), first_s);
            last_token = std::max(last_token.value_or(0.0), r.sent_s + last_ms / 1000);
            prompt += prompt_of(r);
            output += double(r.output_tokens);
            requests += 1;
        }
        if (!first_send) continue;
        if (const double s = *last_first_token - *first_send; s > 0) pp_total.push_back(prompt / s);
        if (const double s = *last_token - *first_token; s > 0 && output > requests) {
            tg_total.push_back((output - requests) / s);
        }
    }
    DepthSpeeds out{speed_of(pp), speed_of(tg), speed_of(pp_total), speed_of(tg_total)};
    if (concurrency <= 1) {
        out.pp_tokens_per_s_total = out.pp_tokens_per_s;
        out.tg_tokens_per_s_total = out.tg_tokens_per_s;
    }
    return out;
}

}  // namespace sparkctl::bench
