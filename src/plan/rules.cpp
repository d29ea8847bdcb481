#include "plan/rules.h"

#include <toml++/toml.h>

#include <stdexcept>

#include "base/assert.h"
#include "base/strings.h"
#include "engines/engine.h"

extern const char sparkctl_rules_toml[];
extern const unsigned long sparkctl_rules_toml_size;

namespace sparkctl::plan {

namespace {

using base::Errc;
using base::make_error;

std::optional<RuleKind> parse_kind(std::string_view s) {
    if (s == "ops") return RuleKind::ops;
    if (s == "eng") return RuleKind::eng;
    if (s == "lim") return RuleKind::lim;
    if (s == "qnt") return RuleKind::qnt;
    if (s == "plan") return RuleKind::plan;
    return std::nullopt;
}

}  // namespace

const char* to_string(RuleKind kind) {
    switch (kind) {
        case RuleKind::ops:
            return "ops";
        case RuleKind::eng:
            return "eng";
        case RuleKind::lim:
            return "lim";
        case RuleKind::qnt:
            return "qnt";
        case RuleKind::plan:
            return "plan";
    }
    return "plan";
}

base::Result<RuleBook> RuleBook::parse(std::string_view toml_text, std::string_view origin) {
    toml::table doc;
    try {
        doc = toml::parse(toml_text, std::string(origin));
    } catch (const toml::parse_error& err) {
        return make_error(Errc::bad_input, std::string(origin) + ":" +
                                               std::to_string(err.source().begin.line) +
                                               ": invalid TOML: " + std::string(err.description()));
    }
    RuleBook book;
    for (const auto& [key, node] : doc) {
        const std::string id(key.str());
        const toml::table* t = node.as_table();
        const std::string where = std::string(origin) + ": rule " + id;
        if (t == nullptr) return make_error(Errc::bad_input, where + ": expected a table");
        Rule r;
        r.id = id;
        auto kind = parse_kind(
            t->get_as<std::string>("kind") ? t->get_as<std::string>("kind")->get() : std::string());
        if (!kind)
            return make_error(Errc::bad_input, where + ": kind must be ops, eng, lim, qnt or plan");
        r.kind = *kind;
        if (auto s = (*t)["text"].value<std::string>()) r.text = *s;
        if (r.text.empty()) return make_error(Errc::bad_input, where + ": missing text");
        r.source = (*t)["source"].value_or(std::string());
        r.engine = (*t)["engine"].value_or(std::string());
        r.quant = (*t)["quant"].value_or(std::string());
        r.enabled = (*t)["enabled"].value_or(true);
        if (auto v = (*t)["value"].value<double>()) r.value = *v;
        if (const toml::node* slo = t->get("slo")) {
            const toml::table* st = slo->as_table();
            if (st == nullptr) return make_error(Errc::bad_input, where + ": slo must be a table");
            for (const auto& [use, terms] : *st) {
                auto text = terms.value<std::string>();
                if (!text) {
                    return make_error(Errc::bad_input, where + ": slo." + std::string(use.str()) +
                                                           " must be a string");
                }
                r.slo[std::string(use.str())] = *text;
            }
        }
        book.rules_.push_back(std::move(r));
    }
    for (const RuleId& id : kAllRuleIds) {
        if (book.find(id.id) == nullptr) {
            return make_error(Errc::bad_input, std::string(origin) + ": rule " +
                                                   std::string(id.id) +
                                                   " is missing (sparkctl's code applies it)");
        }
    }
    return book;
}

const RuleBook& RuleBook::builtin() {
    static const RuleBook book = [] {
        auto b = parse(std::string_view(sparkctl_rules_toml, sparkctl_rules_toml_size),
                       "data/rules.toml");
        SPARKCTL_ASSERT(b.ok());
        return std::move(*b);
    }();
    return book;
}

base::Result<RuleBook> RuleBook::configured(const std::map<std::string, std::string>& table,
                                            std::string_view origin) {
    RuleBook book = builtin();
    auto edited = book.apply_overrides(table, origin);
    if (!edited) return edited.error();
    return book;
}

base::Result<void> RuleBook::apply_overrides(const std::map<std::string, std::string>& table,
                                             std::string_view origin) {
    for (const auto& [key, value] : table) {
        const std::string where = std::string(origin) + ": rules." + key;
        const std::size_t dot = key.rfind('.');
        if (dot == std::string::npos) {
            return make_error(Errc::bad_input, where + ": expected [rules.<ID>] with a field");
        }
        const std::string id = key.substr(0, dot);
        const std::string field = key.substr(dot + 1);
        Rule* r = nullptr;
        for (Rule& x : rules_) {
            if (base::iequals(x.id, id)) r = &x;
        }
        if (r == nullptr) {
            return make_error(Errc::bad_input, where + ": no rule '" + base::printable(id) +
                                                   "' (sparkctl plan --explain lists them)");
        }
        if (field == "enabled") {
            if (value != "true" && value != "false") {
                return make_error(Errc::bad_input, where + ": expected true or false");
            }
            r->enabled = value == "true";
        } else if (field == "engine" && (r->kind == RuleKind::eng || !r->engine.empty())) {
            auto e = engines::parse_engine(value);
            if (!e) return make_error(Errc::bad_input, where + ": " + e.error().message);
            r->engine = engines::to_string(*e);
        } else if (field == "quant" && r->kind == RuleKind::qnt) {
            r->quant = base::to_lower(value);
        } else if (field == "value" && r->value) {
            try {
                std::size_t used = 0;
                const double v = std::stod(value, &used);
                if (used != value.size()) throw std::invalid_argument(value);
                r->value = v;
            } catch (const std::exception&) {
                return make_error(Errc::bad_input, where + ": expected a number");
            }
        } else {
            return make_error(Errc::bad_input, where + ": '" + base::printable(field) +
                                                   "' is not a field this rule has (enabled" +
                                                   (r->kind == RuleKind::eng ? ", engine" : "") +
                                                   (r->kind == RuleKind::qnt ? ", quant" : "") +
                                                   (r->value ? ", value" : "") + ")");
        }
        r->edited_by = std::string(origin) + ": rules." + key;
    }
    return {};
}

const Rule* RuleBook::find(std::string_view id) const {
    for (const Rule& r : rules_) {
        if (base::iequals(r.id, id)) return &r;
    }
    return nullptr;
}

const Rule& RuleBook::get(RuleId id) const {
    const Rule* r = find(id.id);
    SPARKCTL_ASSERT(r != nullptr);
    return *r;
}

}  // namespace sparkctl::plan
