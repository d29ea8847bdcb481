#include "sim/simulator.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <list>
#include <unordered_map>

namespace sparkctl::sim {

namespace {

// Default number of requests of a generated load without --requests or --duration: vLLM's
// `vllm bench serve --num-prompts` default (V:vllm/benchmarks/serve.py, 1000).
constexpr std::uint64_t kDefaultRequests = 1000;
// A step bound far beyond any real run (an hour at 100 requests/s is ~10^5 steps): stops a
// model whose step time underflows from looping for ever.
constexpr std::uint64_t kMaxSteps = 2'000'000'000ull;

struct Req {
    double arrival_s = 0;
    std::uint32_t prompt = 0;
    std::uint32_t output = 0;
    std::int64_t prefix = -1;  // index of its prefix, -1 none
    std::uint32_t prefix_tokens = 0;
    std::uint32_t user = 0;
    // State. target() - computed tokens remain before the next token is sampled.
    std::uint64_t computed = 0;
    std::uint32_t generated = 0;
    std::uint64_t blocks = 0;
    double scheduled_s = -1;
    double first_token_s = 0;
    double last_token_s = 0;
    std::int32_t slot = -1;
    std::uint64_t target() const { return std::uint64_t{prompt} + generated; }
    // Past its prompt (and any recompute): one token per step.
    bool decoding() const { return generated > 0 && target() - computed == 1; }
};

// Least-recently-used set of cached prefixes (vLLM's evictable cached blocks, SGLang's radix
// tree leaves, reduced to whole shared prefixes).
class PrefixCache {
  public:
    bool contains(std::int64_t id) const { return where_.count(id) != 0; }
    void touch(std::int64_t id, std::uint64_t tokens) {
        if (auto it = where_.find(id); it != where_.end()) {
            order_.splice(order_.end(), order_, it->second);
            return;
        }
        order_.push_back({id, tokens});
        where_[id] = std::prev(order_.end());
        tokens_ += tokens;
    }
    // Evicts the least recently used until at most `capacity` tokens are cached.
    void shrink_to(std::uint64_t capacity) {
        while (tokens_ > capacity && !order_.empty()) {
            tokens_ -= order_.front().second;
            where_.erase(order_.front().first);
            order_.pop_front();
        }
    }

  private:
    std::list<std::pair<std::int64_t, std::uint64_t>> order_;
    std::unordered_map<std::int64_t, std::list<std::pair<std::int64_t, std::uint64_t>>::iterator>
        where_;
    std::uint64_t tokens_ = 0;
};

class Engine {
  public:
    Engine(const fit::StepCost& cost, const EngineSettings& e, const Load& load)
        : cost_(cost), e_(e), load_(load), sampler_(load.seed) {}

    base::Result<Result> run();

  private:
    struct Work {
        std::uint32_t req;
        std::uint32_t tokens;
    };

    std::uint64_t blocks_for(std::uint64_t tokens) const {
        return (tokens + e_.block_size - 1) / e_.block_size;
    }
    void add_request(double arrival, std::uint32_t user, std::uint32_t prompt, std::uint32_t output,
                     std::int64_t prefix, std::uint32_t prefix_tokens);
    void issue_closed(std::uint32_t user, double at);
    // The next request's (prompt, output) tokens: the dataset's next entry, else sampled.
    std::pair<std::uint32_t, std::uint32_t> next_sizes();
    void lookup_prefix(Req& r);
    bool grow(Req& r, std::uint64_t tokens);  // KV blocks for `tokens`; false if the pool is full
    void release(Req& r);
    void preempt_last();
    void schedule_vllm(std::vector<Work>& work);
    void schedule_sglang(std::vector<Work>& work);
    void schedule_slots(std::vector<Work>& work);
    void admit(std::uint32_t id);

    const fit::StepCost& cost_;
    const EngineSettings& e_;
    const Load& load_;
    Sampler sampler_;
    std::size_t next_entry_ = 0;  // of load_.dataset
    std::vector<Req> reqs_;
    std::deque<std::uint32_t> pending_;  // by arrival
    std::deque<std::uint32_t> waiting_;
    std::vector<std::uint32_t> running_;     // admission order
    std::vector<std::int32_t> slot_prefix_;  // llama.cpp: each slot's last prefix
    std::vector<bool> slot_busy_;
    std::uint64_t pool_blocks_ = 0;
    std::uint64_t used_blocks_ = 0;
    std::uint64_t limit_requests_ = 0;
    std::uint64_t issued_ = 0;
    PrefixCache cache_;
    std::unordered_map<std::string, std::int64_t> prefix_ids_;
    double now_ = 0;
    Result out_;
};

void Engine::add_request(double arrival, std::uint32_t user, std::uint32_t prompt,
                         std::uint32_t output, std::int64_t prefix, std::uint32_t prefix_tokens) {
    Req r;
    r.arrival_s = arrival;
    r.user = user;
    // A sequence holds at most its context (and, pooled, the whole pool): cut the output first.
    std::uint64_t cap = e_.context;
    if (e_.scheduler != Scheduler::llama_cpp) cap = std::min(cap, pool_blocks_ * e_.block_size);
    if (std::uint64_t{prompt} + output > cap) {
        ++out_.requests_clamped;
        prompt = static_cast<std::uint32_t>(std::min<std::uint64_t>(prompt, cap - 1));
        output = static_cast<std::uint32_t>(cap - prompt);
    }
    r.prompt = prompt;
    r.output = output;
    r.prefix = prefix;
    r.prefix_tokens = std::min(prefix_tokens, prompt);
    reqs_.push_back(r);
    pending_.push_back(static_cast<std::uint32_t>(reqs_.size() - 1));
    ++issued_;
}

void Engine::issue_closed(std::uint32_t user, double at) {
    if (issued_ >= limit_requests_) return;
    if (load_.duration_s && at > *load_.duration_s) return;
    const auto [p, o] = next_sizes();
    add_request(at, user, p, o, -1, 0);
}

std::pair<std::uint32_t, std::uint32_t> Engine::next_sizes() {
    if (!load_.dataset.empty()) {
        const DatasetEntry& d = load_.dataset[next_entry_++ % load_.dataset.size()];
        return {d.prompt_tokens, d.output_tokens};
    }
    const std::uint32_t p = sampler_.tokens(load_.prompt_tokens);
    const std::uint32_t o = sampler_.tokens(load_.output_tokens);
    return {p, o};
}

void Engine::lookup_prefix(Req& r) {
    if (!e_.prefix_caching || r.prefix < 0 || r.computed != 0) return;
    ++out_.prefix_lookups;
    out_.prefix_lookup_tokens += r.prompt;
    bool hit = false;
    if (e_.scheduler == Scheduler::llama_cpp) {
        hit = slot_prefix_[static_cast<std::size_t>(r.slot)] == r.prefix;
    } else {
        cache_.shrink_to((pool_blocks_ - used_blocks_) * e_.block_size);
        hit = cache_.contains(r.prefix);
    }
    if (!hit) return;
    // Whole blocks only, and the last token is always computed (it yields the logits).
    std::uint64_t tokens = std::min<std::uint64_t>(r.prefix_tokens, r.target() - 1);
    tokens -= tokens % e_.block_size;
    r.computed = tokens;
    out_.prefix_hit_tokens += tokens;
}

bool Engine::grow(Req& r, std::uint64_t tokens) {
    const std::uint64_t need = blocks_for(tokens);
    if (need <= r.blocks) return true;
    if (used_blocks_ + (need - r.blocks) > pool_blocks_) return false;
    used_blocks_ += need - r.blocks;
    r.blocks = need;
    out_.kv_pool_peak_fraction =
        std::max(out_.kv_pool_peak_fraction,
                 static_cast<double>(used_blocks_) / static_cast<double>(pool_blocks_));
    return true;
}

void Engine::release(Req& r) {
    used_blocks_ -= r.blocks;
    r.blocks = 0;
}

// Preemption by recompute: the most recently admitted request loses its KV and goes back to the
// front of the queue (vLLM V1 Scheduler.schedule: `self.running.pop()` then
// `self.waiting.prepend_request`; SGLang retracts decode requests the same way).
void Engine::preempt_last() {
    const std::uint32_t id = running_.back();
    running_.pop_back();
    Req& v = reqs_[id];
    release(v);
    v.computed = 0;
    waiting_.push_front(id);
    ++out_.preemptions;
}

void Engine::admit(std::uint32_t id) {
    running_.push_back(id);
    Req& r = reqs_[id];
    if (r.scheduled_s < 0) r.scheduled_s = now_;
}

// vLLM V1 (V:vllm/v1/core/sched/scheduler.py Scheduler.schedule): running requests first, each
// taking min(remaining, budget) tokens; a request that cannot get KV blocks preempts from the
// back of the running list; waiting requests are admitted only when nothing was preempted.
void Engine::schedule_vllm(std::vector<Work>& work) {
    std::uint64_t budget = e_.max_batched_tokens;
    bool preempted = false;
    for (std::size_t i = 0; i < running_.size() && budget > 0;) {
        Req& r = reqs_[running_[i]];
        const auto n = static_cast<std::uint32_t>(std::min(r.target() - r.computed, budget));
        bool ok = grow(r, r.computed + n);
        while (!ok && running_.size() > i + 1) {
            preempt_last();
            preempted = true;
            ok = grow(r, r.computed + n);
        }
        if (!ok) {  // itself the last: preempt it
            preempt_last();
            preempted = true;
            break;
        }
        work.push_back({running_[i], n});
        budget -= n;
        ++i;
    }
    while (!preempted && !waiting_.empty() && running_.size() < e_.max_seqs && budget > 0) {
        Req& r = reqs_[waiting_.front()];
        lookup_prefix(r);
        const auto n = static_cast<std::uint32_t>(std::min(r.target() - r.computed, budget));
        if (!grow(r, r.computed + n)) {
            if (r.generated == 0) r.computed = 0;  // the hit is looked up again next time
            break;
        }
        const std::uint32_t id = waiting_.front();
        waiting_.pop_front();
        admit(id);
        work.push_back({id, n});
        budget -= n;
    }
}

// SGLang (S:python/sglang/srt/managers/scheduler.py get_next_batch_to_run): a new prefill batch
// when one can be formed (the unfinished chunk first, then the queue, up to
// chunked_prefill_size tokens), else one decode step of the running batch, retracting the newest
// requests when the pool cannot hold their next token.
void Engine::schedule_sglang(std::vector<Work>& work) {
    std::uint64_t budget = e_.max_batched_tokens;
    for (std::uint32_t id : running_) {
        Req& r = reqs_[id];
        if (r.decoding() || budget == 0) continue;
        const auto n = static_cast<std::uint32_t>(std::min(r.target() - r.computed, budget));
        if (!grow(r, r.computed + n)) break;
        work.push_back({id, n});
        budget -= n;
    }
    while (!waiting_.empty() && running_.size() < e_.max_seqs && budget > 0) {
        Req& r = reqs_[waiting_.front()];
        lookup_prefix(r);
        const auto n = static_cast<std::uint32_t>(std::min(r.target() - r.computed, budget));
        if (!grow(r, r.computed + n)) {
            if (r.generated == 0) r.computed = 0;
            break;
        }
        const std::uint32_t id = waiting_.front();
        waiting_.pop_front();
        admit(id);
        work.push_back({id, n});
        budget -= n;
    }
    if (!work.empty()) return;
    for (std::size_t i = 0; i < running_.size();) {
        Req& r = reqs_[running_[i]];
        if (!r.decoding()) {  // a chunk the pool could not hold: retried after retraction
            ++i;
            continue;
        }
        if (grow(r, r.computed + 1)) {
            work.push_back({running_[i], 1});
            ++i;
            continue;
        }
        const bool last = running_.size() == i + 1;
        preempt_last();
        if (last) break;
    }
    if (work.empty() && !running_.empty()) preempt_last();
}

// llama.cpp server (LC:tools/server/server.cpp update_slots): every generating slot adds its
// sampled token to the shared batch first, then prompt tokens of slots still processing their
// prompt fill it up to the batch size; a waiting request takes a free slot (one whose cached
// prompt shares its prefix when there is one: get_available_slot's similarity check).
void Engine::schedule_slots(std::vector<Work>& work) {
    while (!waiting_.empty() && running_.size() < e_.max_seqs) {
        const std::uint32_t id = waiting_.front();
        Req& r = reqs_[id];
        std::int32_t slot = -1;
        for (std::size_t s = 0; s < slot_busy_.size(); ++s) {
            if (slot_busy_[s]) continue;
            if (slot < 0 || (r.prefix >= 0 && slot_prefix_[s] == r.prefix)) {
                slot = static_cast<std::int32_t>(s);
            }
        }
        slot_busy_[static_cast<std::size_t>(slot)] = true;
        r.slot = slot;
        lookup_prefix(r);
        waiting_.pop_front();
        admit(id);
    }
    std::uint64_t budget = e_.max_batched_tokens;
    for (std::uint32_t id : running_) {
        const Req& r = reqs_[id];
        if (r.decoding() && budget > 0) {
            work.push_back({id, 1});
            --budget;
        }
    }
    for (std::uint32_t id : running_) {
        const Req& r = reqs_[id];
        if (r.decoding() || budget == 0) continue;
        const auto n = static_cast<std::uint32_t>(std::min(r.target() - r.computed, budget));
        work.push_back({id, n});
        budget -= n;
    }
    std::uint64_t used = 0;
    for (std::uint32_t id : running_) used += reqs_[id].computed;
    for (const Work& w : work) used += w.tokens;
    out_.kv_pool_peak_fraction =
        std::max(out_.kv_pool_peak_fraction,
                 static_cast<double>(used) / (static_cast<double>(e_.context) * e_.max_seqs));
}

base::Result<Result> Engine::run() {
    if (e_.max_seqs == 0 || e_.max_batched_tokens == 0 || e_.context < 2 || e_.block_size == 0) {
        return base::make_error(base::Errc::bad_input,
                                "simulate: the engine needs at least 1 sequence, a token budget "
                                "per step, a context of 2 tokens and a block size");
    }
    if (e_.scheduler == Scheduler::llama_cpp) {
        slot_busy_.assign(e_.max_seqs, false);
        slot_prefix_.assign(e_.max_seqs, -1);
    } else {
        pool_blocks_ = e_.kv_pool_tokens / e_.block_size;
        if (pool_blocks_ < 2) {
            return base::make_error(base::Errc::bad_input,
                                    "simulate: the KV pool holds less than two blocks");
        }
    }
    if (load_.kind == Load::Kind::trace) {
        limit_requests_ = load_.requests.value_or(load_.trace.size());
        for (const TraceRequest& t : load_.trace) {
            if (issued_ >= limit_requests_) break;
            if (load_.duration_s && t.arrival_s > *load_.duration_s) break;
            std::int64_t prefix = -1;
            if (!t.prefix_id.empty()) {
                prefix = prefix_ids_.emplace(t.prefix_id, prefix_ids_.size()).first->second;
            }
            add_request(t.arrival_s, 0, t.prompt_tokens, t.output_tokens, prefix, t.prefix_tokens);
        }
    } else {
        limit_requests_ = load_.requests     ? *load_.requests
                          : load_.duration_s ? std::numeric_limits<std::uint64_t>::max()
                                             : kDefaultRequests;
        if (load_.kind == Load::Kind::closed) {
            for (std::uint32_t u = 0; u < load_.concurrency; ++u) issue_closed(u, 0);
        } else {
            if (load_.rate_per_s <= 0) {
                return base::make_error(base::Errc::bad_input, "simulate: --rate must be above 0");
            }
            double t = 0;
            while (issued_ < limit_requests_ && (!load_.duration_s || t <= *load_.duration_s)) {
                const auto [p, o] = next_sizes();
                add_request(t, 0, p, o, -1, 0);
                t += sampler_.gap_s(load_.arrivals, load_.rate_per_s);
            }
        }
    }
    if (!reqs_.empty()) out_.first_arrival_s = reqs_[pending_.front()].arrival_s;

    std::vector<Work> work;
    std::vector<std::uint32_t> done;
    int empty_rounds = 0;
    std::uint64_t preemptions_seen = 0;
    while (true) {
        while (!pending_.empty() && reqs_[pending_.front()].arrival_s <= now_) {
            waiting_.push_back(pending_.front());
            pending_.pop_front();
        }
        if (running_.empty() && waiting_.empty()) {
            if (pending_.empty()) break;
            now_ = reqs_[pending_.front()].arrival_s;
            continue;
        }
        work.clear();
        switch (e_.scheduler) {
            case Scheduler::vllm:
                schedule_vllm(work);
                break;
            case Scheduler::sglang:
                schedule_sglang(work);
                break;
            case Scheduler::llama_cpp:
                schedule_slots(work);
                break;
        }
        if (work.empty()) {
            // Only a preemption leaves a step empty; the next round admits from the queue.
            // Two empty rounds in a row without one would be a stuck scheduler.
            if (out_.preemptions == preemptions_seen && ++empty_rounds > 1) {
                return base::make_error(base::Errc::internal,
                                        "simulate: no request can be scheduled");
            }
            preemptions_seen = out_.preemptions;
            continue;
        }
        empty_rounds = 0;
        std::uint32_t n_decode = 0;
        double depth_sum = 0;
        std::uint32_t prefill = 0;
        double ctx_sum = 0;
        for (const Work& w : work) {
            const Req& r = reqs_[w.req];
            if (r.decoding()) {
                ++n_decode;
                depth_sum += static_cast<double>(r.computed);
            } else {
                prefill += w.tokens;
                ctx_sum += w.tokens * (static_cast<double>(r.computed) + w.tokens / 2.0);
            }
        }
        out_.max_step_tokens = std::max<std::uint64_t>(out_.max_step_tokens, n_decode + prefill);
        now_ += cost_.step_s(n_decode, depth_sum, prefill, ctx_sum);
        if (++out_.steps > kMaxSteps) {
            return base::make_error(base::Errc::internal, "simulate: step bound exceeded");
        }
        done.clear();
        for (const Work& w : work) {
            Req& r = reqs_[w.req];
            r.computed += w.tokens;
            if (e_.prefix_caching && r.prefix >= 0 && r.computed >= r.prefix_tokens &&
                e_.scheduler != Scheduler::llama_cpp) {
                cache_.touch(r.prefix, r.prefix_tokens);
            }
            if (r.computed < r.target()) continue;
            ++r.generated;
            const double ms = 1000.0 * (now_ - r.last_token_s);
            if (r.generated == 1) {
                r.first_token_s = now_;
                out_.ttft_ms.push_back(1000.0 * (now_ - r.arrival_s));
            } else if (!out_.itl_ms_runs.empty() && out_.itl_ms_runs.back().first == ms) {
                ++out_.itl_ms_runs.back().second;
            } else {
                out_.itl_ms_runs.emplace_back(ms, 1);
            }
            r.last_token_s = now_;
            if (r.generated >= r.output) done.push_back(w.req);
        }
        if (done.empty()) continue;
        for (std::uint32_t id : done) {
            Req& r = reqs_[id];
            if (r.output > 1) {
                out_.tpot_ms.push_back(1000.0 * (now_ - r.first_token_s) / (r.output - 1));
            }
            out_.e2e_ms.push_back(1000.0 * (now_ - r.arrival_s));
            out_.queue_ms.push_back(1000.0 * (r.scheduled_s - r.arrival_s));
            out_.input_tokens += r.prompt;
            out_.output_tokens += r.output;
            ++out_.requests_completed;
            out_.simulated_s = now_;
            if (r.slot >= 0) {
                slot_busy_[static_cast<std::size_t>(r.slot)] = false;
                if (r.prefix >= 0)
                    slot_prefix_[static_cast<std::size_t>(r.slot)] =
                        static_cast<std::int32_t>(r.prefix);
            }
            release(r);
        }
        running_.erase(std::remove_if(running_.begin(), running_.end(),
                                      [&](std::uint32_t id) {
                                          return reqs_[id].generated >= reqs_[id].output;
                                      }),
                       running_.end());
        if (load_.kind == Load::Kind::closed) {
            for (std::uint32_t id : done) issue_closed(reqs_[id].user, now_ + load_.think_s);
        }
    }
    return std::move(out_);
}

}  // namespace

base::Result<Result> simulate(const fit::StepCost& cost, const EngineSettings& engine,
                              const Load& load) {
    Engine e(cost, engine, load);
    return e.run();
}

base::Result<net::Stats> summarize_runs(std::vector<std::pair<double, std::uint64_t>> runs) {
    std::uint64_t n = 0;
    double sum = 0;
    for (const auto& [v, c] : runs) {
        if (std::isnan(v)) return base::make_error(base::Errc::bad_input, "statistics: NaN sample");
        n += c;
        sum += v * static_cast<double>(c);
    }
    if (n == 0) return base::make_error(base::Errc::bad_input, "statistics: no samples");
    std::sort(runs.begin(), runs.end());
    // The value at 0-based rank k of the expanded, sorted samples.
    auto at = [&](std::uint64_t k) {
        for (const auto& [v, c] : runs) {
            if (k < c) return v;
            k -= c;
        }
        return runs.back().first;
    };
    // net::percentile_sorted's definition (numpy "linear") on the expanded samples.
    auto q = [&](double p) {
        const double h = p * static_cast<double>(n - 1);
        const auto lo = static_cast<std::uint64_t>(std::floor(h));
        const double x = at(lo);
        return lo + 1 < n ? x + (h - std::floor(h)) * (at(lo + 1) - x) : x;
    };
    net::Stats s;
    s.count = n;
    s.mean = sum / static_cast<double>(n);
    s.p50 = q(0.5);
    s.p90 = q(0.9);
    s.p95 = q(0.95);
    s.p99 = q(0.99);
    s.p99_9 = q(0.999);
    return s;
}

}  // namespace sparkctl::sim
