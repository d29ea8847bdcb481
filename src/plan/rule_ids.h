// The ids of the rules (data/rules.toml) that sparkctl's code applies, as named constants: plan
// code names a rule only through these, and RuleBook::parse reports a rules document that lacks
// one (so a typo or a dropped rule is a load error, not an assertion in the middle of a plan).
#pragma once

#include <string>
#include <string_view>

namespace sparkctl::plan {

struct RuleId {
    std::string_view id;
    operator std::string() const { return std::string(id); }  // NOLINT: Decision::rule, messages
    friend bool operator==(const RuleId& a, const RuleId& b) { return a.id == b.id; }
};

inline std::string operator+(const std::string& s, const RuleId& r) { return s + std::string(r); }
inline std::string operator+(const RuleId& r, const std::string& s) { return std::string(r) + s; }
inline std::string operator+(const char* s, const RuleId& r) { return s + std::string(r); }
inline std::string operator+(const RuleId& r, const char* s) { return std::string(r) + s; }

// Operational rules (enforced).
inline constexpr RuleId kOps1{"R-OPS-1"};
inline constexpr RuleId kOps2{"R-OPS-2"};
inline constexpr RuleId kOps3{"R-OPS-3"};
inline constexpr RuleId kOps4{"R-OPS-4"};
// Engine selection.
inline constexpr RuleId kEng1{"R-ENG-1"};
inline constexpr RuleId kEng2{"R-ENG-2"};
inline constexpr RuleId kEng3{"R-ENG-3"};
inline constexpr RuleId kEng4{"R-ENG-4"};
inline constexpr RuleId kEng5{"R-ENG-5"};
inline constexpr RuleId kEng6{"R-ENG-6"};
// Engine limitations.
inline constexpr RuleId kLim1{"R-LIM-1"};
inline constexpr RuleId kLim2{"R-LIM-2"};
inline constexpr RuleId kLim3{"R-LIM-3"};
inline constexpr RuleId kLim4{"R-LIM-4"};
// Quantization.
inline constexpr RuleId kQnt1{"R-QNT-1"};
inline constexpr RuleId kQnt2{"R-QNT-2"};
inline constexpr RuleId kQnt3{"R-QNT-3"};
inline constexpr RuleId kQnt4{"R-QNT-4"};
// sparkctl's own sizing choices (docs/dev/plan.md).
inline constexpr RuleId kPlan1{"SPARKCTL-PLAN-1"};
inline constexpr RuleId kPlan2{"SPARKCTL-PLAN-2"};
inline constexpr RuleId kPlan3{"SPARKCTL-PLAN-3"};
inline constexpr RuleId kPlan4{"SPARKCTL-PLAN-4"};
inline constexpr RuleId kPlan5{"SPARKCTL-PLAN-5"};
inline constexpr RuleId kPlan6{"SPARKCTL-PLAN-6"};
inline constexpr RuleId kPlan7{"SPARKCTL-PLAN-7"};
inline constexpr RuleId kPlan8{"SPARKCTL-PLAN-8"};
inline constexpr RuleId kPlan9{"SPARKCTL-PLAN-9"};
inline constexpr RuleId kPlan10{"SPARKCTL-PLAN-10"};
inline constexpr RuleId kPlan11{"SPARKCTL-PLAN-11"};
inline constexpr RuleId kPlan12{"SPARKCTL-PLAN-12"};
inline constexpr RuleId kPlan13{"SPARKCTL-PLAN-13"};
inline constexpr RuleId kPlan14{"SPARKCTL-PLAN-14"};
inline constexpr RuleId kPlan15{"SPARKCTL-PLAN-15"};
inline constexpr RuleId kPlan16{"SPARKCTL-PLAN-16"};
inline constexpr RuleId kPlan17{"SPARKCTL-PLAN-17"};
inline constexpr RuleId kPlan18{"SPARKCTL-PLAN-18"};
inline constexpr RuleId kPlan19{"SPARKCTL-PLAN-19"};
inline constexpr RuleId kPlan20{"SPARKCTL-PLAN-20"};

// Every constant above: RuleBook::parse checks each is in the rules document.
inline constexpr RuleId kAllRuleIds[] = {
    kOps1,   kOps2,   kOps3,   kOps4,   kEng1,   kEng2,   kEng3,   kEng4,   kEng5,   kEng6,
    kLim1,   kLim2,   kLim3,   kLim4,   kQnt1,   kQnt2,   kQnt3,   kQnt4,   kPlan1,  kPlan2,
    kPlan3,  kPlan4,  kPlan5,  kPlan6,  kPlan7,  kPlan8,  kPlan9,  kPlan10, kPlan11, kPlan12,
    kPlan13, kPlan14, kPlan15, kPlan16, kPlan17, kPlan18, kPlan19, kPlan20,
};

}  // namespace sparkctl::plan
