// Private to the cli module: the shape of a command (a row in the table in commands.cpp) and the
// output contract every command follows.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/result.h"
#include "config/config.h"

namespace sparkctl::cli {

// Output contract (docs/ARCHITECTURE.md): with --json, stdout carries exactly one JSON document;
// on exit 1 or 2 it is {"error": {"code": N, "message": "..."}} and stderr has the message too.
class Output {
  public:
    bool json = false;

    void emit_json(const nlohmann::json& doc) const;
    void emit_text(std::string_view text) const;
    // Reports `error` per the contract; returns its exit status.
    int fail(const base::Error& error) const;
    int fail(int exit_status, std::string_view message) const;
};

// What every command can reach: global flags and the resolved configuration.
class Context {
  public:
    Output out;
    std::string config_file;                   // --config
    std::map<std::string, std::string> flags;  // config-option flags given on the command line

    // Declares the flag of config option `key` (from the option table) on `app`.
    void add_config_flag(CLI::App& app, std::string_view key);
    // A subcommand of `app` that also takes the flags of the given config options and lets
    // global flags (--json) follow it.
    CLI::App* add_subcommand(CLI::App& app, const char* name, const char* help,
                             std::initializer_list<std::string_view> config_keys);
    // Loads the configuration once (file < env < flags).
    base::Result<const config::Config*> config();

  private:
    std::unique_ptr<config::Config> config_;
};

// The action a command runs once its flags are parsed; returns the exit status.
using Action = std::function<int(Context&)>;

struct Command {
    const char* name;
    const char* summary;
    // Declares the command's flags and subcommands on `app`; returns the action to run.
    Action (*setup)(CLI::App& app, Context& ctx);
};

// Command setups, one per file cmd_<name>.cpp.
Action setup_config(CLI::App& app, Context& ctx);
Action setup_dev(CLI::App& app, Context& ctx);
Action setup_fit(CLI::App& app, Context& ctx);
Action setup_hw(CLI::App& app, Context& ctx);
Action setup_inspect(CLI::App& app, Context& ctx);
Action setup_models(CLI::App& app, Context& ctx);
Action setup_plan(CLI::App& app, Context& ctx);
Action setup_project(CLI::App& app, Context& ctx);
Action setup_simulate(CLI::App& app, Context& ctx);
Action setup_activity(CLI::App& app, Context& ctx);
Action setup_doctor(CLI::App& app, Context& ctx);
Action setup_bench(CLI::App& app, Context& ctx);
Action setup_daemon(CLI::App& app, Context& ctx);
Action setup_up(CLI::App& app, Context& ctx);
Action setup_down(CLI::App& app, Context& ctx);
Action setup_ps(CLI::App& app, Context& ctx);
Action setup_logs(CLI::App& app, Context& ctx);
Action setup_status(CLI::App& app, Context& ctx);
Action setup_calibrate(CLI::App& app, Context& ctx);

}  // namespace sparkctl::cli
