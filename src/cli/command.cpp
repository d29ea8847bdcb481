#include "cli/command.h"

#include <cstdio>
#include <cstdlib>

#include "base/exit_status.h"

namespace sparkctl::cli {

void Output::emit_json(const nlohmann::json& doc) const {
    // Invalid UTF-8 from untrusted files is replaced rather than thrown on.
    std::string s = doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
    s += '\n';
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
}

void Output::emit_text(std::string_view text) const {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

int Output::fail(int exit_status, std::string_view message) const {
    std::fprintf(stderr, "sparkctl: error: %.*s\n", static_cast<int>(message.size()),
                 message.data());
    if (json) {
        nlohmann::json doc;
        doc["error"] = {{"code", exit_status}, {"message", std::string(message)}};
        emit_json(doc);
    }
    return exit_status;
}

int Output::fail(const base::Error& error) const {
    return fail(base::exit_status_for(error.code), error.message);
}

void Context::add_config_flag(CLI::App& app, std::string_view key) {
    const config::OptionSpec* spec = config::find_option(key);
    SPARKCTL_ASSERT(spec != nullptr && !spec->flag.empty());
    std::string k(key);
    app.add_option_function<std::string>(
           std::string(spec->flag), [this, k](const std::string& v) { flags[k] = v; },
           std::string(spec->help) + " [env " + std::string(spec->env) + "]")
        ->type_name("VALUE");
}

CLI::App* Context::add_subcommand(CLI::App& app, const char* name, const char* help,
                                  std::initializer_list<std::string_view> config_keys) {
    CLI::App* sub = app.add_subcommand(name, help);
    sub->fallthrough();
    for (std::string_view key : config_keys) add_config_flag(*sub, key);
    return sub;
}

base::Result<const config::Config*> Context::config() {
    if (!config_) {
        config::Sources sources;
        if (!config_file.empty()) sources.file = config_file;
        sources.getenv = [](const char* name) { return std::getenv(name); };
        sources.flags = flags;
        auto loaded = config::Config::load(sources);
        if (!loaded) return loaded.error();
        config_ = std::make_unique<config::Config>(std::move(loaded).value());
    }
    return static_cast<const config::Config*>(config_.get());
}

}  // namespace sparkctl::cli
