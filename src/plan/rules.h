// The rules `sparkctl plan` applies, as data: data/rules.toml (compiled in) edited by the config
// file's [rules.<ID>] tables. R-* rules quote spark-knowledge.md; SPARKCTL-PLAN-* are sparkctl's
// own sizing choices (docs/dev/plan.md). Thread-compatible: a RuleBook is immutable once built.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "plan/rule_ids.h"

namespace sparkctl::plan {

enum class RuleKind {
    ops,   // enforced: a plan that breaks it is refused (exit 2) unless --override names it
    eng,   // engine preference: --engine may go against it, with a warning
    lim,   // engine limitation: a preference, as eng
    qnt,   // quantization preference: --quant may go against it, with a warning
    plan,  // sparkctl's sizing choice
};

const char* to_string(RuleKind kind);

struct Rule {
    std::string id;  // "R-OPS-1", "SPARKCTL-PLAN-3"
    RuleKind kind = RuleKind::plan;
    std::string text;
    std::string source;
    bool enabled = true;
    std::string engine;           // eng rules (and SPARKCTL-PLAN-12): the engine it picks
    std::string quant;            // qnt rules: the quantization it prefers
    std::optional<double> value;  // plan rules with a number
    // SPARKCTL-PLAN-20: use ("chat") -> SLO text in simulate's --slo syntax (sim/workload.h).
    // Read only from the rules document (a config file may switch the rule off, not edit these).
    std::map<std::string, std::string> slo;
    std::string edited_by;  // "" or the config file key that changed it
};

class RuleBook {
  public:
    // The built-in rules. The data is ours: a parse failure is a bug (asserted; tested).
    static const RuleBook& builtin();

    // Parses a rules document (data/rules.toml's schema). Errors: bad_input naming the rule and
    // key: malformed TOML, an unknown kind, a missing text; or naming a rule the code applies
    // (plan/rule_ids.h) that the document lacks.
    static base::Result<RuleBook> parse(std::string_view toml_text, std::string_view origin);

    // builtin() edited by a config file's [rules.<ID>] tables (apply_overrides). Errors: its.
    static base::Result<RuleBook> configured(const std::map<std::string, std::string>& table,
                                             std::string_view origin);

    // Applies config-file edits: keys "<ID>.<field>" (Config::table("rules")) with fields
    // enabled (true/false), engine, quant, value. Errors: bad_input naming the key for an unknown
    // rule or field, or a bad value (engine not one of llama.cpp/vllm/sglang, value not a
    // number).
    base::Result<void> apply_overrides(const std::map<std::string, std::string>& table,
                                       std::string_view origin);

    // nullptr when `id` is not a rule (ids from the user: --override, config keys).
    const Rule* find(std::string_view id) const;
    // A rule the code applies: parse() checked that every RuleId is in the book.
    const Rule& get(RuleId id) const;
    bool enabled(RuleId id) const { return get(id).enabled; }
    const std::vector<Rule>& rules() const { return rules_; }

  private:
    std::vector<Rule> rules_;
};

}  // namespace sparkctl::plan
