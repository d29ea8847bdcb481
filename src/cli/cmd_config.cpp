// sparkctl config show: every option with its value and where the value came from, and the
// deployments ([[models]]) as serve reads them.
#include <fmt/format.h>

#include "cli/command.h"
#include "serve/deployment.h"

namespace sparkctl::cli {

namespace {

nlohmann::json deployment_json(const serve::DeploymentConfig& d) {
    auto opt = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
    return {{"id", d.id},
            {"model", d.model},
            {"aliases", d.aliases},
            {"use", d.use},
            {"users", d.users},
            {"context", opt(d.context)},
            {"engine", opt(d.engine)},
            {"quant", opt(d.quant)},
            {"engine_version", opt(d.engine_version)},
            {"prefer", opt(d.prefer)},
            {"kv_cache_dtype", opt(d.kv_cache_dtype)},
            {"overrides", d.overrides},
            {"budget", opt(d.budget)},
            {"kind", serve::to_string(d.kind)},
            {"extra_args", d.extra_args},
            {"simulate_args", d.simulate_args},
            {"pin", d.pin},
            {"ttl_s", opt(d.ttl_s)},
            {"bench", d.bench},
            {"max_in_flight", d.max_in_flight}};
}

// One line per deployment: what differs from the defaults.
std::string deployment_text(const serve::DeploymentConfig& d) {
    std::string s = fmt::format("{:<20} {:<36} use={} users={}", d.id, d.model, d.use, d.users);
    if (d.context) s += fmt::format(" context={}", *d.context);
    if (d.engine) s += " engine=" + *d.engine;
    if (d.quant) s += " quant=" + *d.quant;
    if (d.engine_version) s += " engine_version=" + *d.engine_version;
    if (d.prefer) s += " prefer=" + *d.prefer;
    if (d.kv_cache_dtype) s += " kv_cache_dtype=" + *d.kv_cache_dtype;
    if (!d.overrides.empty()) s += " overrides=" + fmt::format("{}", fmt::join(d.overrides, ","));
    if (d.budget) s += " budget=" + *d.budget;
    if (d.kind == serve::Kind::container) s += " kind=container";
    if (d.pin) s += " pin";
    if (d.ttl_s) s += fmt::format(" ttl_s={}", *d.ttl_s);
    if (d.bench) s += " bench";
    if (d.max_in_flight > 0) s += fmt::format(" max_in_flight={}", d.max_in_flight);
    if (!d.aliases.empty()) s += " aliases=" + fmt::format("{}", fmt::join(d.aliases, ","));
    if (!d.extra_args.empty())
        s += " extra_args=\"" + fmt::format("{}", fmt::join(d.extra_args, " ")) + "\"";
    if (!d.simulate_args.empty()) {
        s += " simulate_args=\"" + fmt::format("{}", fmt::join(d.simulate_args, " ")) + "\"";
    }
    return s + "\n";
}

}  // namespace

Action setup_config(CLI::App& app, Context& ctx) {
    app.require_subcommand(1);
    CLI::App* show = app.add_subcommand("show", "Print each option, its value and its origin");
    // Every config option can be given as a flag here, to see precedence at work.
    for (const config::OptionSpec& o : config::options()) {
        if (!o.flag.empty() && o.key != "log_level") ctx.add_config_flag(*show, o.key);
    }
    return [show](Context& c) -> int {
        if (!show->parsed()) return c.out.fail(2, "config: expected a subcommand: show");
        auto cfg = c.config();
        if (!cfg) return c.out.fail(cfg.error());
        const config::Config& config = **cfg;
        auto deployments = serve::read_deployments(config);
        if (!deployments) return c.out.fail(deployments.error());
        if (c.out.json) {
            nlohmann::json doc;
            doc["file"] = config.file() ? nlohmann::json(config.file()->string()) : nullptr;
            nlohmann::json opts = nlohmann::json::array();
            for (const auto& [spec, setting] : config.all()) {
                opts.push_back({{"key", std::string(spec->key)},
                                {"value", setting->value},
                                {"origin", config::to_string(setting->origin)},
                                {"where", setting->where},
                                {"env", std::string(spec->env)},
                                {"flag", std::string(spec->flag)},
                                {"help", std::string(spec->help)}});
            }
            doc["options"] = opts;
            nlohmann::json models = nlohmann::json::array();
            for (const serve::DeploymentConfig& d : *deployments)
                models.push_back(deployment_json(d));
            doc["models"] = models;
            c.out.emit_json(doc);
            return 0;
        }
        std::string text =
            fmt::format("config file: {}\n\n", config.file() ? config.file()->string() : "(none)");
        text += fmt::format("{:<14} {:<36} {:<8} {}\n", "KEY", "VALUE", "ORIGIN", "WHERE");
        for (const auto& [spec, setting] : config.all()) {
            text += fmt::format("{:<14} {:<36} {:<8} {}\n", spec->key, setting->value,
                                config::to_string(setting->origin), setting->where);
        }
        if (!deployments->empty()) {
            text += fmt::format("\nmodels ({} deployments, [[models]]):\n", deployments->size());
            for (const serve::DeploymentConfig& d : *deployments) text += deployment_text(d);
        }
        c.out.emit_text(text);
        return 0;
    };
}

}  // namespace sparkctl::cli
