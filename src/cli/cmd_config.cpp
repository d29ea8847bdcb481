// sparkctl config show: every option with its value and where the value came from.
#include <fmt/format.h>

#include "cli/command.h"

namespace sparkctl::cli {

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
            c.out.emit_json(doc);
            return 0;
        }
        std::string text = fmt::format(
            "config file: {}\n\n", config.file() ? config.file()->string() : "(none)");
        text += fmt::format("{:<12} {:<36} {:<8} {}\n", "KEY", "VALUE", "ORIGIN", "WHERE");
        for (const auto& [spec, setting] : config.all()) {
            text += fmt::format("{:<12} {:<36} {:<8} {}\n", spec->key, setting->value,
                                config::to_string(setting->origin), setting->where);
        }
        c.out.emit_text(text);
        return 0;
    };
}

}  // namespace sparkctl::cli
