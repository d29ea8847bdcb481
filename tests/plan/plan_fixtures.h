// Helpers shared by the plan tests (plan_test.cpp, plan_matrix_test.cpp).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "engines/versions.h"
#include "fit/performance.h"
#include "hw/profile.h"
#include "model/catalog.h"
#include "plan/detail/commands.h"
#include "plan/plan.h"

namespace sparkctl::plan::fixtures {

inline Hardware spark() {
    auto p = hw::find_profile("dgx-spark");
    EXPECT_TRUE(p.ok());
    return p.ok() ? hardware_of(*p) : Hardware{};
}

inline PlanRequest request(UseCase use, std::uint32_t users = 1) {
    PlanRequest r;
    r.use = use;
    r.users = users;
    r.hardware = spark();
    return r;
}

inline Plan plan_for(const std::string& id, const PlanRequest& r,
                     const RuleBook& rules = RuleBook::builtin()) {
    const model::CatalogEntry* e = model::find_model(id);
    EXPECT_NE(e, nullptr) << id;
    auto p = make_plan(e->spec, e->variants, r, rules);
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
    return p.ok() ? *p : Plan{};
}

inline const Decision* decision(const Plan& p, const std::string& step) {
    for (const Decision& d : p.decisions) {
        if (d.step == step) return &d;
    }
    return nullptr;
}

inline const LaunchCommand* server(const Plan& p, const std::string& kind = "native") {
    for (const LaunchCommand& c : p.commands) {
        if (c.role == "server" && c.kind == kind) return &c;
    }
    return nullptr;
}

inline bool has_arg(const LaunchCommand& c, const std::string& a) {
    return std::find(c.argv.begin(), c.argv.end(), a) != c.argv.end();
}

inline std::string arg_after(const LaunchCommand& c, const std::string& a) {
    auto it = std::find(c.argv.begin(), c.argv.end(), a);
    return it == c.argv.end() || it + 1 == c.argv.end() ? "" : *(it + 1);
}

inline bool warned(const Plan& p, const std::string& needle) {
    return std::any_of(p.warnings.begin(), p.warnings.end(),
                       [&](const std::string& w) { return w.find(needle) != std::string::npos; });
}

// Every flag of every server command is in the targeted version's table.
inline void expect_flags_accepted(const Plan& p) {
    for (const LaunchCommand& c : p.commands) {
        if (c.role != "server") continue;
        const auto unknown =
            engines::unknown_flags(p.engine_version, c.argv, detail::flags_start(c));
        EXPECT_TRUE(unknown.empty()) << p.model << " " << c.kind << ": " << unknown.front();
        const auto values =
            engines::unknown_values(p.engine_version, c.argv, detail::flags_start(c));
        EXPECT_TRUE(values.empty()) << p.model << " " << c.kind << ": " << values.front();
    }
}

}  // namespace sparkctl::plan::fixtures
