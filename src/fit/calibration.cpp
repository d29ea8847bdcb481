#include "fit/calibration.h"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <tuple>

#include "base/strings.h"
#include "fit/memory.h"
#include "fit/quant.h"
#include "model/catalog.h"

extern const char sparkctl_perf_constants_toml[];
extern const unsigned long sparkctl_perf_constants_toml_size;

namespace sparkctl::fit {

namespace {

using engines::Engine;

base::Error bad(std::string_view origin, std::size_t line, const std::string& what) {
    return base::make_error(base::Errc::bad_input,
                            std::string(origin) + ":" + std::to_string(line) + ": " + what);
}

std::optional<double> parse_double(const std::string& s) {
    if (s.empty()) return std::nullopt;
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

// ---- the fit: parameter slots ----

enum Shared { kKv, kAttn, kM0, kOverhead, kAllreduce, kOverlap, kSeq, kNumShared };
constexpr const char* kSharedNames[] = {
    "kv_bw_eff",           "attn_eff",       "moe_half_tokens", "layer_overhead_s",
    "allreduce_latency_s", "expert_overlap", "seq_overhead_s"};
constexpr bool kSharedIsEff[] = {true, true, false, false, false, true, false};
// TOML keys where they differ from the names: compute efficiencies are fractions of the
// reference peak, on the DGX Spark the sparse FP4 one (fit/performance.h reference_flops);
// the old keys are still read.
constexpr const char* kAttnKey = "attn_eff_of_sparse_fp4_peak";
constexpr const char* kGemmKey = "gemm_eff_of_sparse_fp4_peak";
const char* toml_key(int i) { return i == kAttn ? kAttnKey : kSharedNames[i]; }

// A fitted variable this close to the clamp of value_of() sits at its bound.
constexpr double kAtBoundX = 20.0;
// Prefill fit rows a quantization type needs for its own gemm_eff (TypeGemmConstants).
constexpr int kMinTypePrefillRows = 4;

struct Slot {
    int var = -1;          // index into x, or -1: fixed
    double fixed = 0;      // value when var < 0
    bool eff = true;       // (0, 1] through a logistic; else positive through exp
    std::string borrowed;  // where a fixed value came from
};

double value_of(const Slot& s, const std::vector<double>& x) {
    if (s.var < 0) return s.fixed;
    const double v = std::clamp(x[static_cast<std::size_t>(s.var)], -30.0, 30.0);
    return s.eff ? 1.0 / (1.0 + std::exp(-v)) : std::exp(v);
}

double initial_x(const Slot& s, int shared_index) {
    if (s.eff && shared_index != kOverlap) return 0.0;
    switch (shared_index) {
        case kM0:
            return std::log(64.0);
        case kOverhead:
            return std::log(2e-5);
        case kAllreduce:
            return std::log(5e-5);
        case kOverlap:
            return -4.0;  // rho ~ 0.02
        case kSeq:
            return std::log(1e-4);
        default:
            return 0.0;
    }
}

// Nelder-Mead minimisation of f from x0 (standard coefficients).
std::vector<double> nelder_mead(const std::function<double(const std::vector<double>&)>& f,
                                std::vector<double> x0, int iterations) {
    const std::size_t n = x0.size();
    if (n == 0) return x0;
    std::vector<std::vector<double>> p(n + 1, x0);
    for (std::size_t i = 0; i < n; ++i) p[i + 1][i] += 1.0;
    std::vector<double> fv(n + 1);
    for (std::size_t i = 0; i <= n; ++i) fv[i] = f(p[i]);
    for (int it = 0; it < iterations; ++it) {
        std::vector<std::size_t> idx(n + 1);
        for (std::size_t i = 0; i <= n; ++i) idx[i] = i;
        std::sort(idx.begin(), idx.end(),
                  [&](std::size_t a, std::size_t b) { return fv[a] < fv[b]; });
        const std::size_t best = idx[0], worst = idx[n], second = idx[n - 1];
        if (std::fabs(fv[worst] - fv[best]) < 1e-12) break;
        std::vector<double> c(n, 0.0);
        for (std::size_t i = 0; i <= n; ++i) {
            if (i == worst) continue;
            for (std::size_t k = 0; k < n; ++k) c[k] += p[i][k] / static_cast<double>(n);
        }
        auto along = [&](double t) {
            std::vector<double> r(n);
            for (std::size_t k = 0; k < n; ++k) r[k] = c[k] + t * (p[worst][k] - c[k]);
            return r;
        };
        std::vector<double> xr = along(-1.0);
        const double fr = f(xr);
        if (fr < fv[best]) {
            std::vector<double> xe = along(-2.0);
            const double fe = f(xe);
            if (fe < fr) {
                p[worst] = xe;
                fv[worst] = fe;
            } else {
                p[worst] = xr;
                fv[worst] = fr;
            }
        } else if (fr < fv[second]) {
            p[worst] = xr;
            fv[worst] = fr;
        } else {
            std::vector<double> xc = along(fr < fv[worst] ? -0.5 : 0.5);
            const double fc = f(xc);
            if (fc < std::min(fr, fv[worst])) {
                p[worst] = xc;
                fv[worst] = fc;
            } else {
                for (std::size_t i = 0; i <= n; ++i) {
                    if (i == best) continue;
                    for (std::size_t k = 0; k < n; ++k)
                        p[i][k] = p[best][k] + 0.5 * (p[i][k] - p[best][k]);
                    fv[i] = f(p[i]);
                }
            }
        }
    }
    std::size_t best = 0;
    for (std::size_t i = 1; i <= n; ++i)
        if (fv[i] < fv[best]) best = i;
    return p[best];
}

// A row with what predicting it needs.
struct Prepared {
    const Measurement* row = nullptr;
    std::string skipped;
    std::shared_ptr<const ModelCosts> costs;
    HwCaps hw;
    std::string family;
    std::string quant;  // lower case canonical quantization name (a type within the family)
};

double predict_row(const Prepared& p, const PerfConstants& c) {
    const Measurement& m = *p.row;
    const double conc = m.concurrency;
    if (m.metric == "decode") {
        const double ctx = static_cast<double>(m.depth) + static_cast<double>(m.gen_tokens) / 2.0;
        const StepTime st = decode_step(*p.costs, c, p.hw, conc, ctx, m.nodes);
        return conc / st.total();
    }
    const double ub = m.ubatch ? m.ubatch : default_ubatch(m.engine, p.hw.memory_total_bytes);
    const double prompt = static_cast<double>(m.prompt_tokens);
    const double t =
        prefill_time_s(*p.costs, c, p.hw, conc, prompt, static_cast<double>(m.depth), ub, m.nodes);
    return conc * prompt / t;
}

// The row's physical bound (RowResult::ceiling).
double row_ceiling(const Prepared& p) {
    const Measurement& m = *p.row;
    const double conc = m.concurrency;
    if (m.metric == "decode") {
        const double ctx = static_cast<double>(m.depth) + static_cast<double>(m.gen_tokens) / 2.0;
        return decode_ceiling_tokens_per_s(*p.costs, p.hw, conc, ctx, m.nodes);
    }
    const double ub = m.ubatch ? m.ubatch : default_ubatch(m.engine, p.hw.memory_total_bytes);
    const double prompt = static_cast<double>(m.prompt_tokens);
    double flops = 0;
    prefill_time_s(*p.costs, PerfConstants{}, p.hw, conc, prompt, static_cast<double>(m.depth), ub,
                   m.nodes, &flops);
    const double peak = p.hw.reference_flops_per_s.value_or(0);
    return flops > 0 && peak > 0 ? conc * prompt / (flops / peak)
                                 : std::numeric_limits<double>::infinity();
}

base::Result<std::vector<Prepared>> prepare(const std::vector<Measurement>& rows) {
    std::map<std::string, std::shared_ptr<const ModelCosts>> cache;
    std::map<std::string, std::string> skipped;
    std::map<std::string, HwCaps> hws;
    std::vector<Prepared> out;
    for (const Measurement& m : rows) {
        Prepared p;
        p.row = &m;
        auto it_hw = hws.find(m.hardware);
        if (it_hw == hws.end()) {
            auto prof = hw::find_profile(m.hardware);
            if (!prof) return base::with_context(prof.error(), "line " + std::to_string(m.line));
            auto caps = hw_caps(*prof);
            if (!caps) return base::with_context(caps.error(), "line " + std::to_string(m.line));
            it_hw = hws.emplace(m.hardware, *caps).first;
        }
        p.hw = it_hw->second;
        const std::string arch_model = m.catalog_model.empty() ? m.model : m.catalog_model;
        const std::string key = arch_model + "|" + std::string(engines::to_string(m.engine)) + "|" +
                                m.quant + "|" + m.kv_cache_dtype + "|" +
                                std::to_string(static_cast<int>(m.weight_layout));
        auto it = cache.find(key);
        if (it == cache.end() && !skipped.count(key)) {
            const std::string at = "line " + std::to_string(m.line);
            const model::CatalogEntry* entry = model::find_model(arch_model);
            if (!entry) {
                return base::make_error(base::Errc::bad_input,
                                        at + ": model '" + arch_model + "' is not in the catalog");
            }
            auto q = resolve_quant(m.engine, m.quant);
            if (!q) return base::with_context(q.error(), at);
            const std::string missing = missing_facts(entry->spec.arch);
            if (!missing.empty()) {
                skipped[key] = "catalog entry '" + arch_model + "' lacks " + missing;
            } else {
                auto costs =
                    model_costs(entry->spec, m.engine, q->name, m.kv_cache_dtype, m.weight_layout);
                if (!costs) return base::with_context(costs.error(), at);
                it =
                    cache.emplace(key, std::make_shared<const ModelCosts>(std::move(*costs))).first;
            }
        }
        if (auto s = skipped.find(key); s != skipped.end()) {
            p.skipped = s->second;
        } else {
            p.costs = it->second;
        }
        auto q = resolve_quant(m.engine, m.quant);
        p.family = quant_family(m.engine, q ? q->name : m.quant, m.weight_layout);
        p.quant = base::to_lower(q ? q->name : m.quant);
        out.push_back(std::move(p));
    }
    return out;
}

const EngineConstants* find_engine(const ConstantsTable& t, Engine e) {
    for (const EngineConstants& ec : t.engines)
        if (ec.engine == e) return &ec;
    return nullptr;
}

double shared_value(const PerfConstants& c, int i) {
    switch (i) {
        case kKv:
            return c.kv_bw_eff;
        case kAttn:
            return c.attn_eff;
        case kM0:
            return c.moe_half_tokens;
        case kOverhead:
            return c.layer_overhead_s;
        case kOverlap:
            return c.expert_overlap;
        case kSeq:
            return c.seq_overhead_s;
        default:
            return c.allreduce_latency_s;
    }
}

void set_shared(PerfConstants& c, int i, double v) {
    switch (i) {
        case kKv:
            c.kv_bw_eff = v;
            break;
        case kAttn:
            c.attn_eff = v;
            break;
        case kM0:
            c.moe_half_tokens = v;
            break;
        case kOverhead:
            c.layer_overhead_s = v;
            break;
        case kOverlap:
            c.expert_overlap = v;
            break;
        case kSeq:
            c.seq_overhead_s = v;
            break;
        default:
            c.allreduce_latency_s = v;
            break;
    }
}

std::string mapped_llamacpp_family(const std::string& f) {
    if (f.find("fp4") != std::string::npos) return "mxfp4";
    if (f == "float") return "float";
    return "ggml";
}

const FamilyConstants* find_family(const EngineConstants* ec, std::string_view family) {
    if (!ec) return nullptr;
    for (const FamilyConstants& fc : ec->families)
        if (fc.family == family) return &fc;
    return nullptr;
}

// The name a base table goes by in `borrowed` lists.
std::string base_name(const ConstantsTable& base) {
    return base.label.empty() ? "builtin" : base.label;
}

// Fits one engine's constants on its fit rows; `table` holds the engines fitted before it.
// `base`: the same engine's constants in the base table of calibrate(), or nullptr.
EngineConstants fit_engine(Engine engine, const std::vector<const Prepared*>& rows,
                           const ConstantsTable& table, const EngineConstants* base_engine,
                           const std::string& base_source) {
    EngineConstants ec;
    ec.engine = engine;
    const EngineConstants* lc = find_engine(table, Engine::llama_cpp);
    const EngineConstants* vl = find_engine(table, Engine::vllm);

    // Which constants the rows can determine.
    std::map<std::string, int> fam_decode, fam_prefill;
    std::map<std::string, bool> decode_models;
    int deep_decode = 0, deep_prefill = 0, moe_prefill = 0, tp_rows = 0, moe_batched = 0,
        batched = 0;
    for (const Prepared* p : rows) {
        const Measurement& m = *p->row;
        if (m.metric == "decode") {
            ++fam_decode[p->family];
            decode_models[m.model] = true;
            if (m.depth >= 4096) ++deep_decode;
            if (p->costs->n_experts > 0 && m.concurrency >= 4) ++moe_batched;
            if (m.concurrency >= 4) ++batched;
        } else {
            ++fam_prefill[p->family];
            if (m.depth >= 4096) ++deep_prefill;
            if (p->costs->n_experts > 0) ++moe_prefill;
        }
        if (m.nodes > 1) ++tp_rows;
        fam_decode.emplace(p->family, 0);
        fam_prefill.emplace(p->family, 0);
    }
    const bool active[kNumShared] = {
        deep_decode >= 2, deep_prefill >= 2, moe_prefill >= 2, decode_models.size() >= 2,
        tp_rows >= 1,     moe_batched >= 2,  batched >= 2};

    int nvar = 0;
    Slot shared[kNumShared];
    for (int i = 0; i < kNumShared; ++i) {
        shared[i].eff = kSharedIsEff[i];
        if (active[i]) {
            shared[i].var = nvar++;
            continue;
        }
        if (base_engine) {
            shared[i].fixed = shared_value(base_engine->shared, i);
            shared[i].borrowed = base_source;
        } else if (engine != Engine::llama_cpp && lc && i != kAllreduce) {
            shared[i].fixed = shared_value(lc->shared, i);
            shared[i].borrowed = "llama.cpp";
        } else if (i == kAllreduce && engine != Engine::vllm && vl) {
            shared[i].fixed = shared_value(vl->shared, i);
            shared[i].borrowed = "vllm";
        } else {
            // No data: ideal hardware, and uniform routing (overlap 0).
            shared[i].fixed = kSharedIsEff[i] && i != kOverlap ? 1.0 : 0.0;
            shared[i].borrowed = "none (no data: ideal)";
        }
    }
    struct FamSlots {
        std::string family;
        Slot wbw, gemm;
        int n_rows = 0;
    };
    std::vector<FamSlots> fams;
    for (const auto& [f, n] : fam_decode) {
        FamSlots fs;
        fs.family = f;
        fs.n_rows = n + fam_prefill[f];
        if (n > 0) fs.wbw.var = nvar++;
        if (fam_prefill[f] > 0) fs.gemm.var = nvar++;
        fams.push_back(fs);
    }
    // llama.cpp's "ggml" family spans several CUDA GEMM kernels (TypeGemmConstants): a type with
    // kMinTypePrefillRows prefill rows gets its own gemm_eff, provided prefill rows of other
    // types remain to fit the family's (which types without their own use).
    struct TypeSlot {
        std::string family, quant;
        Slot gemm;
        int n_prefill = 0;
    };
    std::vector<TypeSlot> types;
    if (engine == Engine::llama_cpp) {
        std::map<std::pair<std::string, std::string>, int> type_prefill;
        for (const Prepared* p : rows)
            if (p->row->metric == "prefill" && p->family == "ggml")
                ++type_prefill[{p->family, p->quant}];
        int left = fam_prefill["ggml"];
        for (const auto& [key, n] : type_prefill) {
            if (n < kMinTypePrefillRows) continue;
            types.push_back(TypeSlot{key.first, key.second, Slot{}, n});
            left -= n;
        }
        if (left <= 0) types.clear();
        for (TypeSlot& t : types) t.gemm.var = nvar++;
    }
    // Constants a family has no rows for: another family of this engine (ggml first), else the
    // nearest llama.cpp family.
    for (FamSlots& fs : fams) {
        for (int which = 0; which < 2; ++which) {
            Slot& s = which == 0 ? fs.wbw : fs.gemm;
            if (s.var >= 0) continue;
            const FamSlots* donor = nullptr;
            for (const FamSlots& o : fams) {
                const Slot& os = which == 0 ? o.wbw : o.gemm;
                if (os.var >= 0 && (!donor || o.family == "ggml")) donor = &o;
            }
            if (const FamilyConstants* bf = find_family(base_engine, fs.family)) {
                s.fixed = which == 0 ? bf->weights_bw_eff : bf->gemm_eff;
                s.borrowed = base_source;
            } else if (engine != Engine::llama_cpp && lc) {
                const ResolvedConstants r =
                    resolve_constants(table, Engine::llama_cpp, mapped_llamacpp_family(fs.family));
                s.fixed = which == 0 ? r.constants.weights_bw_eff : r.constants.gemm_eff;
                s.borrowed = r.source;
            } else if (donor) {
                s.var = (which == 0 ? donor->wbw : donor->gemm).var;
                s.borrowed = std::string(engines::to_string(engine)) + "/" + donor->family;
            } else {
                s.fixed = 1.0;
                s.borrowed = "none (no data: ideal)";
            }
        }
    }

    auto constants_for = [&](const std::vector<double>& x, const Prepared& p) {
        PerfConstants c;
        for (int i = 0; i < kNumShared; ++i) set_shared(c, i, value_of(shared[i], x));
        for (const FamSlots& fs : fams) {
            if (fs.family != p.family) continue;
            c.weights_bw_eff = value_of(fs.wbw, x);
            c.gemm_eff = value_of(fs.gemm, x);
        }
        for (const TypeSlot& t : types)
            if (t.family == p.family && t.quant == p.quant) c.gemm_eff = value_of(t.gemm, x);
        return c;
    };
    auto objective = [&](const std::vector<double>& x) {
        double sum = 0;
        for (const Prepared* p : rows) {
            const double pred = predict_row(*p, constants_for(x, *p));
            const double r = std::log(pred / p->row->value);
            sum += std::isfinite(r) ? r * r : 1e6;
        }
        return sum;
    };
    // Two deterministic starts (the batched-decode terms small, then large), the lower optimum
    // kept: the routing overlap and the per-sequence time trade against each other and against
    // kv_bw_eff, and one start alone lands in whichever basin is nearest.
    std::vector<double> x;
    double best = 0;
    for (double seq_start : {1e-4, 5e-4}) {
        std::vector<double> xs(static_cast<std::size_t>(nvar), 0.0);
        for (int i = 0; i < kNumShared; ++i)
            if (shared[i].var >= 0)
                xs[static_cast<std::size_t>(shared[i].var)] = initial_x(shared[i], i);
        if (shared[kSeq].var >= 0)
            xs[static_cast<std::size_t>(shared[kSeq].var)] = std::log(seq_start);
        for (int round = 0; round < 6; ++round) xs = nelder_mead(objective, xs, 4000);
        const double f = objective(xs);
        if (x.empty() || f < best) {
            x = std::move(xs);
            best = f;
        }
    }

    auto at_bound = [&](const Slot& s) {
        return s.var >= 0 && std::fabs(x[static_cast<std::size_t>(s.var)]) >= kAtBoundX;
    };
    for (int i = 0; i < kNumShared; ++i) {
        set_shared(ec.shared, i, value_of(shared[i], x));
        if (shared[i].var >= 0) {
            ec.fitted.push_back(kSharedNames[i]);
            if (at_bound(shared[i])) ec.at_bound.push_back(kSharedNames[i]);
        } else {
            ec.borrowed.push_back(std::string(kSharedNames[i]) + " <- " + shared[i].borrowed);
        }
    }
    for (const FamSlots& fs : fams) {
        FamilyConstants fc;
        fc.family = fs.family;
        fc.weights_bw_eff = value_of(fs.wbw, x);
        fc.gemm_eff = value_of(fs.gemm, x);
        fc.n_fit_rows = static_cast<std::uint32_t>(fs.n_rows);
        if (fs.wbw.var >= 0 && fs.wbw.borrowed.empty()) {
            fc.fitted.push_back("weights_bw_eff");
            if (at_bound(fs.wbw)) ec.at_bound.push_back(fs.family + ".weights_bw_eff");
        }
        if (fs.gemm.var >= 0 && fs.gemm.borrowed.empty()) {
            fc.fitted.push_back("gemm_eff");
            if (at_bound(fs.gemm)) ec.at_bound.push_back(fs.family + ".gemm_eff");
        }
        if (!fs.wbw.borrowed.empty())
            ec.borrowed.push_back(fs.family + ".weights_bw_eff <- " + fs.wbw.borrowed);
        if (!fs.gemm.borrowed.empty())
            ec.borrowed.push_back(fs.family + ".gemm_eff <- " + fs.gemm.borrowed);
        for (const TypeSlot& t : types) {
            if (t.family != fs.family) continue;
            fc.types.push_back(TypeGemmConstants{t.quant, value_of(t.gemm, x),
                                                 static_cast<std::uint32_t>(t.n_prefill)});
            if (at_bound(t.gemm)) ec.at_bound.push_back(t.family + "/" + t.quant + ".gemm_eff");
        }
        // A family whose GEMM efficiency is the base's keeps the base's per-type ones too.
        const FamilyConstants* bf = find_family(base_engine, fs.family);
        if (bf && fs.gemm.var < 0 && fc.types.empty()) fc.types = bf->types;
        ec.families.push_back(fc);
    }
    // The base's families no row covers are kept, with their constants at a bound.
    if (base_engine) {
        for (const FamilyConstants& bf : base_engine->families) {
            if (find_family(&ec, bf.family)) continue;
            ec.families.push_back(bf);
            for (const std::string& name : base_engine->at_bound) {
                if (name.rfind(bf.family + ".", 0) == 0 || name.rfind(bf.family + "/", 0) == 0)
                    ec.at_bound.push_back(name);
            }
        }
        std::sort(
            ec.families.begin(), ec.families.end(),
            [](const FamilyConstants& a, const FamilyConstants& b) { return a.family < b.family; });
    }
    return ec;
}

}  // namespace

base::Result<std::vector<Measurement>> parse_measurements(std::string_view text,
                                                          std::string_view origin) {
    std::vector<Measurement> out;
    std::vector<std::string> header;
    std::size_t line_no = 0;
    for (const std::string& raw : base::split(text, '\n')) {
        ++line_no;
        std::string line = raw;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        std::vector<std::string> cells = base::split(line, '\t');
        if (header.empty()) {
            header = cells;
            for (const char* need : {"source", "source_url", "hardware", "engine", "engine_version",
                                     "model", "quant", "test", "prompt_tokens", "gen_tokens",
                                     "depth", "concurrency", "nodes", "metric", "value", "split"}) {
                if (std::find(header.begin(), header.end(), need) == header.end()) {
                    return bad(origin, line_no, std::string("missing column '") + need + "'");
                }
            }
            continue;
        }
        std::map<std::string, std::string> c;
        for (std::size_t i = 0; i < header.size(); ++i)
            c[header[i]] = i < cells.size() ? cells[i] : "";
        Measurement m;
        m.line = line_no;
        m.source = c["source"];
        m.source_url = c["source_url"];
        m.hardware = c["hardware"];
        auto e = engines::parse_engine(c["engine"]);
        if (!e) return bad(origin, line_no, e.error().message);
        m.engine = *e;
        m.engine_version = c["engine_version"];
        m.model = c["model"];
        m.catalog_model = c["catalog_model"];
        m.quant = c["quant"];
        if (!c["kv_cache_dtype"].empty()) m.kv_cache_dtype = c["kv_cache_dtype"];
        m.test = c["test"];
        auto num = [&](const char* key, std::uint64_t def) -> std::optional<std::uint64_t> {
            if (c[key].empty()) return def;
            return base::parse_u64(c[key]);
        };
        auto prompt = num("prompt_tokens", 0), gen = num("gen_tokens", 0), depth = num("depth", 0),
             conc = num("concurrency", 1), nodes = num("nodes", 1), ub = num("ubatch", 0);
        if (!prompt || !gen || !depth || !conc || !nodes || !ub || *conc == 0 || *nodes == 0 ||
            *conc > (1u << 20) || *nodes > 1024 || *ub > (1u << 24)) {
            return bad(origin, line_no,
                       "a token count, concurrency, nodes or ubatch is not a "
                       "valid number");
        }
        m.prompt_tokens = *prompt;
        m.gen_tokens = *gen;
        m.depth = *depth;
        m.concurrency = static_cast<std::uint32_t>(*conc);
        m.nodes = static_cast<std::uint32_t>(*nodes);
        m.ubatch = static_cast<std::uint32_t>(*ub);
        m.metric = c["metric"];
        if (m.metric != "decode" && m.metric != "prefill") {
            return bad(origin, line_no,
                       "metric '" + base::printable(m.metric) + "' is not decode or prefill");
        }
        if (m.metric == "prefill" && m.prompt_tokens == 0) {
            return bad(origin, line_no, "a prefill row needs prompt_tokens");
        }
        auto v = parse_double(c["value"]);
        if (!v || *v <= 0) return bad(origin, line_no, "value is not a positive number");
        m.value = *v;
        m.split = c["split"];
        if (m.split != "fit" && m.split != "holdout") {
            return bad(origin, line_no,
                       "split '" + base::printable(m.split) + "' is not fit or holdout");
        }
        m.notes = c["notes"];
        auto layout = parse_weight_layout(c["weight_layout"]);
        if (!layout) {
            return bad(origin, line_no,
                       "weight_layout '" + base::printable(c["weight_layout"]) +
                           "' is not blank or mxfp4-layers=moe,qkv,o,lm_head");
        }
        m.weight_layout = *layout;
        if (m.model.empty() || m.quant.empty() || m.hardware.empty()) {
            return bad(origin, line_no, "model, quant and hardware are required");
        }
        out.push_back(std::move(m));
    }
    if (header.empty()) return bad(origin, line_no, "no header row");
    return out;
}

std::string split_rule(const Measurement& m) {
    const std::string key = m.model + "|" + std::string(engines::to_string(m.engine)) + "|" +
                            m.quant + "|" + m.test + "|" + std::to_string(m.depth) + "|" +
                            std::to_string(m.concurrency) + "|" + std::to_string(m.nodes) + "|" +
                            m.metric;
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char ch : key) {
        h ^= ch;
        h *= 1099511628211ull;
    }
    return h % 3 == 0 ? "holdout" : "fit";
}

namespace {

// The [provenance] table `sparkctl calibrate` writes (ConstantsProvenance).
base::Result<ConstantsProvenance> parse_provenance(const toml::node* node,
                                                   std::string_view origin) {
    const std::string where = std::string(origin) + ": [provenance]";
    const toml::table* pt = node->as_table();
    if (!pt) return base::make_error(base::Errc::bad_input, where + " is not a table");
    const toml::node_view<const toml::node> pv{pt};
    // value_exact: toml++'s value<int64_t>() also converts a float, out of range undefined
    // (constants_fuzz: runs = 5.3e21).
    auto count = [&](const char* key) -> std::optional<std::uint32_t> {
        auto v = pv[key].value_exact<std::int64_t>();
        if (!v || *v < 0 || *v > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
        return static_cast<std::uint32_t>(*v);
    };
    auto bad_key = [&](const char* key) {
        return base::make_error(base::Errc::bad_input,
                                where + ": key '" + key + "' missing or out of range");
    };
    ConstantsProvenance p;
    auto runs = count("runs"), fit_rows = count("fit_rows"), holdout_rows = count("holdout_rows");
    if (!runs) return bad_key("runs");
    if (!fit_rows) return bad_key("fit_rows");
    if (!holdout_rows) return bad_key("holdout_rows");
    p.runs = *runs;
    p.fit_rows = *fit_rows;
    p.holdout_rows = *holdout_rows;
    if (const toml::array* ids = pv["run_ids"].as_array()) {
        for (const toml::node& v : *ids) {
            auto id = v.value_exact<std::int64_t>();
            if (!id) return bad_key("run_ids");
            p.run_ids.push_back(*id);
        }
    }
    if (pv["holdout_error"]) {
        auto e = pv["holdout_error"].value<double>();
        if (!e || !std::isfinite(*e) || *e < 0) return bad_key("holdout_error");
        p.holdout_error = *e;
    }
    auto date = pv["date"].value<std::string>();
    if (!date) return bad_key("date");
    p.date = *date;
    return p;
}

// A family's or type's optional `fit_rows`: absent is 0; otherwise a whole number that fits
// 32 bits (a negative one was read as a wrapped count and written back as another number:
// constants_fuzz).
base::Result<std::uint32_t> fit_rows_of(const toml::node_view<const toml::node>& v,
                                        const std::string& where) {
    if (!v["fit_rows"]) return std::uint32_t{0};
    auto n = v["fit_rows"].value_exact<std::int64_t>();
    if (!n || *n < 0 || *n > std::numeric_limits<std::uint32_t>::max()) {
        return base::make_error(base::Errc::bad_input,
                                where + ": key 'fit_rows' must be a whole number from 0");
    }
    return static_cast<std::uint32_t>(*n);
}

}  // namespace

base::Result<ConstantsTable> parse_constants_toml(std::string_view text, std::string_view origin) {
    toml::table doc;
    try {
        doc = toml::parse(text, origin);
    } catch (const toml::parse_error& e) {
        return base::make_error(base::Errc::bad_input,
                                std::string(origin) + ": " + std::string(e.description()));
    }
    ConstantsTable t;
    t.generated_by = doc["generated_by"].value_or(std::string());
    if (const toml::node* pn = doc.get("provenance")) {
        auto pv = parse_provenance(pn, origin);
        if (!pv) return pv.error();
        t.provenance = std::move(*pv);
    }
    const toml::table* engs = doc["engine"].as_table();
    if (!engs || engs->empty()) {  // an empty one names no constants (and is not written back)
        return base::make_error(base::Errc::bad_input,
                                std::string(origin) + ": no [engine] table with an engine in it");
    }
    auto strings = [](const toml::node_view<const toml::node>& n) {
        std::vector<std::string> out;
        if (const toml::array* a = n.as_array()) {
            for (const toml::node& v : *a)
                if (auto s = v.value<std::string>()) out.push_back(*s);
        }
        return out;
    };
    for (const auto& [name, node] : *engs) {
        const std::string where =
            std::string(origin) + ": engine '" + std::string(name.str()) + "'";
        auto e = engines::parse_engine(name.str());
        if (!e) return base::make_error(base::Errc::bad_input, where + ": unknown engine");
        // Two keys may name one engine (parse_engine's spellings and padding): one table each.
        if (std::any_of(t.engines.begin(), t.engines.end(),
                        [&](const EngineConstants& seen) { return seen.engine == *e; })) {
            return base::make_error(base::Errc::bad_input, where + ": a second table for engine '" +
                                                               std::string(engines::to_string(*e)) +
                                                               "'");
        }
        const toml::table* et = node.as_table();
        if (!et) return base::make_error(base::Errc::bad_input, where + ": not a table");
        const toml::node_view<const toml::node> ev{et};
        EngineConstants ec;
        ec.engine = *e;
        for (int i = 0; i < kNumShared; ++i) {
            auto v = ev[toml_key(i)].value<double>();
            if (!v) v = ev[kSharedNames[i]].value<double>();
            // Files before these constants: uniform routing, no per-sequence time.
            if (!v && (i == kOverlap || i == kSeq)) v = 0.0;
            if (!v || *v < 0 || (kSharedIsEff[i] && i != kOverlap && (*v <= 0 || *v > 1)) ||
                (i == kOverlap && *v > 1)) {
                return base::make_error(base::Errc::bad_input, where + ": key '" + toml_key(i) +
                                                                   "' missing or out of range");
            }
            set_shared(ec.shared, i, *v);
        }
        ec.fitted = strings(ev["fitted"]);
        ec.borrowed = strings(ev["borrowed"]);
        ec.at_bound = strings(ev["at_bound"]);
        if (const toml::table* fams = ev["family"].as_table()) {
            for (const auto& [fname, fnode] : *fams) {
                const toml::node_view<const toml::node> fv{fnode};
                FamilyConstants fc;
                fc.family = std::string(fname.str());
                auto w = fv["weights_bw_eff"].value<double>();
                auto g = fv[kGemmKey].value<double>();
                if (!g) g = fv["gemm_eff"].value<double>();
                if (!w || !g || *w <= 0 || *w > 1 || *g <= 0 || *g > 1) {
                    return base::make_error(base::Errc::bad_input,
                                            where + ": family '" + fc.family +
                                                "': weights_bw_eff and " + kGemmKey +
                                                " must be in (0, 1]");
                }
                fc.weights_bw_eff = *w;
                fc.gemm_eff = *g;
                fc.fitted = strings(fv["fitted"]);
                auto rows = fit_rows_of(fv, where + ": family '" + fc.family + "'");
                if (!rows) return rows.error();
                fc.n_fit_rows = *rows;
                if (const toml::table* ts = fv["type"].as_table()) {
                    for (const auto& [tname, tnode] : *ts) {
                        const toml::node_view<const toml::node> tv{tnode};
                        TypeGemmConstants tc;
                        tc.quant = std::string(tname.str());
                        auto tg = tv[kGemmKey].value<double>();
                        if (!tg || *tg <= 0 || *tg > 1) {
                            return base::make_error(base::Errc::bad_input,
                                                    where + ": family '" + fc.family + "' type '" +
                                                        tc.quant + "': " + kGemmKey +
                                                        " must be in (0, 1]");
                        }
                        tc.gemm_eff = *tg;
                        auto trows = fit_rows_of(
                            tv, where + ": family '" + fc.family + "' type '" + tc.quant + "'");
                        if (!trows) return trows.error();
                        tc.n_fit_rows = *trows;
                        fc.types.push_back(tc);
                    }
                }
                ec.families.push_back(fc);
            }
        }
        t.engines.push_back(ec);
    }
    // TOML tables are unordered: keep the order calibrate() writes (llama.cpp, vllm, sglang).
    std::sort(
        t.engines.begin(), t.engines.end(),
        [](const EngineConstants& a, const EngineConstants& b) { return a.engine < b.engine; });
    return t;
}

namespace {

// A TOML basic string (toml.io/en/v1.0.0#string): quote, backslash and control characters
// escaped, so text read from a constants file is written back as the same text.
std::string toml_string(std::string_view text) {
    std::string s = "\"";
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            s += '\\';
            s += c;
        } else if (u < 0x20 || u == 0x7f) {
            s += fmt::format("\\u{:04X}", u);
        } else {
            s += c;
        }
    }
    return s + "\"";
}

// A TOML key: bare when it can be (A-Za-z0-9_-), else quoted.
std::string toml_key_text(std::string_view key) {
    const bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
    return bare ? std::string(key) : toml_string(key);
}

// A constant as the table writes it: 6 significant digits, and a negative zero as 0 (`-0` is a
// TOML integer that reads back as 0, so the text would change on a round trip: constants_fuzz).
std::string toml_number(double v) { return fmt::format("{:.6g}", v == 0 ? 0.0 : v); }

}  // namespace

std::string constants_to_toml(const ConstantsTable& t) {
    auto list = [](const std::vector<std::string>& v) {
        std::string s = "[";
        for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + toml_string(v[i]);
        return s + "]";
    };
    std::string out =
        t.provenance
            ? "# Performance model constants (docs/dev/performance-model.md), fitted to this "
              "machine's\n"
              "# benchmark runs (the 'fit' rows; [provenance] says which). Constants no run "
              "determines are\n"
              "# the built-in table's ('<- builtin' in borrowed). Regenerate with the command "
              "below.\n"
            : "# Performance model constants (docs/dev/performance-model.md), fitted to the 'fit' "
              "rows of\n"
              "# data/perf-measurements.tsv. Do not edit: regenerate with the command below.\n";
    out +=
        "# *_eff_of_sparse_fp4_peak: fractions of the DGX Spark's sparse FP4 1 PFLOP/s, the\n"
        "# highest peak it publishes; at_bound: fitted constants the data drove to a limit.\n";
    out += "generated_by = " + toml_string(t.generated_by) + "\n";
    if (const auto& p = t.provenance) {
        std::string ids;
        for (std::size_t i = 0; i < p->run_ids.size(); ++i)
            ids += (i ? ", " : "") + std::to_string(p->run_ids[i]);
        out += "\n[provenance]\n";
        out += fmt::format("runs = {}\nrun_ids = [{}]\nfit_rows = {}\nholdout_rows = {}\n", p->runs,
                           ids, p->fit_rows, p->holdout_rows);
        if (p->holdout_error) out += "holdout_error = " + toml_number(*p->holdout_error) + "\n";
        out += "date = " + toml_string(p->date) + "\n";
    }
    for (const EngineConstants& ec : t.engines) {
        out += fmt::format("\n[engine.\"{}\"]\n", engines::to_string(ec.engine));
        for (int i = 0; i < kNumShared; ++i) {
            out += fmt::format("{} = {}\n", toml_key(i), toml_number(shared_value(ec.shared, i)));
        }
        out += "fitted = " + list(ec.fitted) + "\n";
        out += "borrowed = " + list(ec.borrowed) + "\n";
        out += "at_bound = " + list(ec.at_bound) + "\n";
        for (const FamilyConstants& fc : ec.families) {
            out += fmt::format("\n[engine.\"{}\".family.{}]\n", engines::to_string(ec.engine),
                               toml_key_text(fc.family));
            out += "weights_bw_eff = " + toml_number(fc.weights_bw_eff) + "\n";
            out += fmt::format("{} = {}\n", kGemmKey, toml_number(fc.gemm_eff));
            out += "fitted = " + list(fc.fitted) + "\n";
            out += fmt::format("fit_rows = {}\n", fc.n_fit_rows);
            for (const TypeGemmConstants& tc : fc.types) {
                out += fmt::format("\n[engine.\"{}\".family.{}.type.{}]\n",
                                   engines::to_string(ec.engine), toml_key_text(fc.family),
                                   toml_string(tc.quant));
                out += fmt::format("{} = {}\n", kGemmKey, toml_number(tc.gemm_eff));
                out += fmt::format("fit_rows = {}\n", tc.n_fit_rows);
            }
        }
    }
    return out;
}

const ConstantsTable& builtin_constants() {
    static const ConstantsTable table = [] {
        auto t = parse_constants_toml(
            std::string_view(sparkctl_perf_constants_toml, sparkctl_perf_constants_toml_size),
            "data/perf-constants.toml");
        return t ? *t : ConstantsTable{};
    }();
    return table;
}

base::Result<std::vector<RowResult>> evaluate(const std::vector<Measurement>& rows,
                                              const ConstantsTable& table) {
    auto prepared = prepare(rows);
    if (!prepared) return prepared.error();
    std::vector<RowResult> out;
    for (const Prepared& p : *prepared) {
        RowResult r;
        r.row = p.row;
        if (!p.skipped.empty()) {
            r.skipped = p.skipped;
            out.push_back(r);
            continue;
        }
        const ResolvedConstants rc = resolve_constants(table, p.row->engine, p.family, p.quant);
        r.predicted = predict_row(p, rc.constants);
        r.error = (r.predicted - p.row->value) / p.row->value;
        r.constants_source = rc.source;
        r.family = p.family;
        r.ceiling = row_ceiling(p);
        out.push_back(r);
    }
    return out;
}

namespace {

double median_abs(std::vector<double> e) {
    if (e.empty()) return 0;
    for (double& v : e) v = std::fabs(v);
    std::sort(e.begin(), e.end());
    const std::size_t k = e.size();
    return k % 2 ? e[k / 2] : (e[k / 2 - 1] + e[k / 2]) / 2.0;
}

}  // namespace

double mdape(const std::vector<RowResult>& results, std::string_view split, std::string_view metric,
             std::size_t* n) {
    std::vector<double> e;
    for (const RowResult& r : results) {
        if (r.skipped.empty() && r.row->split == split && r.row->metric == metric) {
            e.push_back(r.error);
        }
    }
    if (n) *n = e.size();
    return median_abs(std::move(e));
}

std::vector<ErrorCell> errors_by_family(const std::vector<RowResult>& results) {
    std::map<std::tuple<Engine, std::string, std::string, std::string>, std::vector<double>> cells;
    for (const RowResult& r : results) {
        if (!r.skipped.empty()) continue;
        cells[{r.row->engine, r.family, r.row->split, r.row->metric}].push_back(r.error);
    }
    std::vector<ErrorCell> out;
    for (auto& [key, errors] : cells) {
        ErrorCell c;
        std::tie(c.engine, c.family, c.split, c.metric) = key;
        c.rows = errors.size();
        c.mdape = median_abs(std::move(errors));
        out.push_back(std::move(c));
    }
    return out;
}

base::Result<ConstantsTable> calibrate(const std::vector<Measurement>& rows,
                                       const std::string& generated_by,
                                       const ConstantsTable* base_table) {
    auto prepared = prepare(rows);
    if (!prepared) return prepared.error();
    ConstantsTable table;
    table.generated_by = generated_by;
    bool any = false;
    for (Engine e : {Engine::llama_cpp, Engine::vllm, Engine::sglang}) {
        std::vector<const Prepared*> mine;
        for (const Prepared& p : *prepared) {
            if (p.row->engine == e && p.row->split == "fit" && p.skipped.empty())
                mine.push_back(&p);
        }
        if (mine.empty()) continue;
        any = true;
        table.engines.push_back(fit_engine(e, mine, table,
                                           base_table ? find_engine(*base_table, e) : nullptr,
                                           base_table ? base_name(*base_table) : std::string()));
    }
    if (!any) {
        return base::make_error(base::Errc::bad_input, "no rows with split 'fit' to calibrate on");
    }
    // llama.cpp has no tensor-parallel rows: its all-reduce latency is vLLM's when fitted (with
    // a base table, a constant no row determines stays the base's).
    const EngineConstants* vl = base_table ? nullptr : find_engine(table, Engine::vllm);
    for (EngineConstants& ec : table.engines) {
        const bool fitted =
            std::find(ec.fitted.begin(), ec.fitted.end(), "allreduce_latency_s") != ec.fitted.end();
        if (!fitted && vl && ec.engine != Engine::vllm) {
            ec.shared.allreduce_latency_s = vl->shared.allreduce_latency_s;
            for (std::string& b : ec.borrowed) {
                if (b.rfind("allreduce_latency_s", 0) == 0) b = "allreduce_latency_s <- vllm";
            }
        }
    }
    // The base's engines no row covers are kept as they are.
    if (base_table) {
        for (const EngineConstants& be : base_table->engines)
            if (!find_engine(table, be.engine)) table.engines.push_back(be);
        std::sort(
            table.engines.begin(), table.engines.end(),
            [](const EngineConstants& a, const EngineConstants& b) { return a.engine < b.engine; });
    }
    return table;
}

}  // namespace sparkctl::fit
