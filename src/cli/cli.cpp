#include "cli/cli.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "base/exit_status.h"
#include "base/log.h"
#include "cli/command.h"

namespace sparkctl::cli {

namespace {

// The command table (ninja's tool table): one row per subcommand.
const Command kCommands[] = {
    {"models", "List the built-in model catalog", setup_models},
    {"inspect", "Show a model's architecture facts and tensor inventory (catalog id or file)",
     setup_inspect},
    {"fit", "Will it run here? Memory per engine against the budget, largest context and parallel",
     setup_fit},
    {"plan", "Engine, quantization, flags and launch commands by the rules (docs/rules.md)",
     setup_plan},
    {"simulate",
     "Simulate the planned deployment serving a workload (the engine's scheduler, modelled)",
     setup_simulate},
    {"hw", "Show this machine's hardware, or a built-in profile", setup_hw},
    {"config", "Show the configuration and where each value comes from", setup_config},
    {"project", "Workspace projects, index and saved plans (R-WS-1..4)", setup_project},
    {"activity", "Activity log rendered into CLAUDE.md (R-WS-5)", setup_activity},
    {"dev", "Developer tools (make-gguf: random-weight GGUF models for testing)", setup_dev},
    {"doctor", "Is this box set up right? Swap, memory, driver, engines, docker, fabric",
     setup_doctor},
    {"bench", "Load-test an OpenAI-compatible endpoint (R-OPS-2 checked)", setup_bench},
    {"serve", "Run the daemon: engines for the [[models]] deployments, inside the pool",
     setup_daemon},
    {"up", "Load a deployment (or deploy a model) in the running daemon", setup_up},
    {"down", "Unload a deployment (or --all)", setup_down},
    {"ps", "The daemon's deployments: state, port, memory, restarts", setup_ps},
    {"logs", "A deployment's engine log (-f follows)", setup_logs},
    {"status", "The daemon and its deployments", setup_status},
    {"calibrate",
     "Refit the performance constants on this box's stored benchmark runs (constants = local)",
     setup_calibrate},
};

bool wants_json(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--json") == 0) return true;
    }
    return false;
}

int run_checked(int argc, char** argv) {
    Context ctx;
    ctx.out.json = wants_json(argc, argv);

    CLI::App app{"sparkctl: local LLM inference on the DGX Spark, right the first time",
                 "sparkctl"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("sparkctl ") + SPARKCTL_VERSION);
    bool json_flag = false;
    app.add_flag("--json", json_flag, "Print one JSON document on stdout (commands that report)");
    app.add_option("--config", ctx.config_file,
                   "Config file (default $XDG_CONFIG_HOME/sparkctl/config.toml)");
    ctx.add_config_flag(app, "log_level");

    std::vector<std::pair<CLI::App*, Action>> actions;
    for (const Command& c : kCommands) {
        CLI::App* sub = app.add_subcommand(c.name, c.summary);
        sub->fallthrough();
        actions.emplace_back(sub, c.setup(*sub, ctx));
    }

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        return ctx.out.fail(base::kExitBadInput, e.what());
    }

    auto cfg = ctx.config();
    if (!cfg) return ctx.out.fail(cfg.error());
    const std::string& level = (*cfg)->value("log_level");
    if (level == "debug")
        base::set_log_level(base::LogLevel::debug);
    else if (level == "info")
        base::set_log_level(base::LogLevel::info);
    else if (level == "warn")
        base::set_log_level(base::LogLevel::warn);
    else if (level == "error")
        base::set_log_level(base::LogLevel::error);
    else
        return ctx.out.fail(base::kExitBadInput,
                            "log_level: '" + level + "' is not one of debug, info, warn, error");

    for (auto& [sub, action] : actions) {
        if (sub->parsed()) return action(ctx);
    }
    return ctx.out.fail(base::kExitBadInput, "no command given (see sparkctl --help)");
}

}  // namespace

int run(int argc, char** argv) {
    // The catch-all boundary: no exception escapes main.
    try {
        return run_checked(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sparkctl: internal error: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "sparkctl: internal error: unknown exception\n");
    }
    return base::kExitFailure;
}

}  // namespace sparkctl::cli
