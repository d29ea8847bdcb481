// sparkctl doctor: is this box set up right? Runs the checks of src/doctor against this machine
// (or, for tests only, against a captured tree named by SPARKCTL_DOCTOR_ROOT) and prints a table
// or {"checks": [...]}; exit 4 when a check fails (docs/dev/doctor.md).
#include <fmt/format.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "base/exit_status.h"
#include "base/strings.h"
#include "cli/command.h"
#include "doctor/doctor.h"
#include "hw/detect.h"
#include "plan/inputs.h"
#include "plan/plan.h"

namespace sparkctl::cli {

namespace {

using nlohmann::json;

struct DoctorArgs {
    int port = 8080;
    std::string budget;
    bool cluster = false;
};

json checks_json(const std::vector<doctor::Check>& checks) {
    json list = json::array();
    for (const doctor::Check& c : checks) {
        list.push_back({{"id", c.id},
                        {"status", doctor::to_string(c.status)},
                        {"detail", c.detail},
                        {"fix", c.fix.empty() ? json(nullptr) : json(c.fix)},
                        {"rule", c.rule.empty() ? json(nullptr) : json(c.rule)}});
    }
    return {{"checks", list}};
}

std::string checks_text(const std::vector<doctor::Check>& checks) {
    std::string s = fmt::format("{:<6} {:<18} {}\n", "STATUS", "CHECK", "DETAIL");
    int counts[3] = {0, 0, 0};
    for (const doctor::Check& c : checks) {
        ++counts[static_cast<int>(c.status)];
        s += fmt::format("{:<6} {:<18} {}{}\n", doctor::to_string(c.status), c.id, c.detail,
                         c.rule.empty() ? "" : " [" + c.rule + "]");
        if (!c.fix.empty()) s += fmt::format("{:<25} fix: {}\n", "", c.fix);
    }
    s += fmt::format("{} ok, {} warn, {} fail\n", counts[0], counts[1], counts[2]);
    return s;
}

}  // namespace

Action setup_doctor(CLI::App& app, Context& ctx) {
    auto a = std::make_shared<DoctorArgs>();
    ctx.add_config_flag(app, "hardware");
    app.add_option("--port", a->port, "The port sparkctl serve would listen on (default 8080)")
        ->check(CLI::Range(1, 65535));
    app.add_option("--budget", a->budget,
                   "Memory budget in bytes (suffixes GiB, GB, ...) instead of the profile's");
    app.add_flag("--cluster", a->cluster,
                 "Check the cluster fabric even when the config has no [cluster] table");
    return [a](Context& c) -> int {
        auto cfg = c.config();
        if (!cfg) return c.out.fail(cfg.error());
        const std::string cfg_origin =
            (*cfg)->file() ? (*cfg)->file()->string() : std::string("config");

        // Test-only: a captured machine (docs/dev/doctor.md); never set in normal use.
        const char* root = std::getenv("SPARKCTL_DOCTOR_ROOT");
        std::unique_ptr<doctor::Machine> machine =
            doctor::make_machine(root != nullptr && *root != '\0' ? root : "/");

        doctor::Inputs in;
        in.port = a->port;
        in.programs = plan::engine_programs(**cfg);
        if (!a->budget.empty()) {
            auto parsed = base::parse_bytes(a->budget);
            if (!parsed || *parsed == 0) {
                return c.out.fail(base::kExitBadInput, "--budget: '" + base::printable(a->budget) +
                                                           "' is not a byte size (e.g. 100GiB)");
            }
            in.budget_bytes = *parsed;
            in.budget_origin = "--budget";
        } else {
            auto hwp = hw::resolve_hardware((*cfg)->value("hardware"), *machine);
            if (!hwp) return c.out.fail(hwp.error());
            in.budget_bytes = hwp->budget_bytes();
            in.budget_origin = "hardware profile " + hwp->name;
        }
        auto cluster = plan::parse_cluster((*cfg)->table("cluster"), cfg_origin);
        if (!cluster) return c.out.fail(cluster.error());
        if (*cluster || a->cluster) {
            doctor::Fabric f;
            if (*cluster) {
                f.roce_hcas = (*cluster)->roce_hcas;
                f.fabric_interface = (*cluster)->fabric_interface;
            }
            in.fabric = f;
        }

        const std::vector<doctor::Check> checks = doctor::run_checks(*machine, in);
        if (c.out.json) {
            c.out.emit_json(checks_json(checks));
        } else {
            c.out.emit_text(checks_text(checks));
        }
        return doctor::any_failed(checks) ? base::kExitWanting : base::kExitOk;
    };
}

}  // namespace sparkctl::cli
