// sparkctl activity add|render: the activity log rendered into CLAUDE.md (R-WS-5).
#include <fmt/format.h>

#include <ctime>
#include <filesystem>
#include <memory>

#include "base/exit_status.h"
#include "cli/command.h"
#include "workspace/activity.h"
#include "workspace/roots.h"

namespace sparkctl::cli {

namespace {

struct ActivityArgs {
    std::string type;
    std::string title;
    std::int64_t read_tokens = -1;
    std::string project;
    std::string file = "CLAUDE.md";
};

// Each leaf takes the workspace roots as flags, and the global flags after it (--json).
CLI::App* add_leaf(CLI::App& app, Context& ctx, const char* name, const char* help) {
    return ctx.add_subcommand(app, name, help, {"github_root", "claude_home", "data_dir"});
}

}  // namespace

Action setup_activity(CLI::App& app, Context& ctx) {
    app.require_subcommand(1);
    auto a = std::make_shared<ActivityArgs>();

    CLI::App* add_cmd = add_leaf(app, ctx, "add", "Record an entry in the activity log");
    add_cmd->add_option("--type", a->type, "One of " + workspace::activity_type_names())
        ->required();
    add_cmd->add_option("TITLE", a->title, "What happened, one line")->required();
    CLI::Option* tokens = add_cmd->add_option(
        "--read-tokens", a->read_tokens,
        "Approximate tokens to read it (default: title characters / 4, rounded up)");
    CLI::Option* add_project = add_cmd->add_option(
        "--project", a->project, "Project name (default: from the current directory)");

    CLI::App* render_cmd =
        add_leaf(app, ctx, "render",
                 "Rewrite the <claude-mem-context> block of a CLAUDE.md with recent activity");
    render_cmd->add_option("FILE", a->file, "The file (default ./CLAUDE.md)");
    CLI::Option* render_project = render_cmd->add_option(
        "--project", a->project,
        "Only this project's entries (default: the project FILE is in, else all)");

    return [=](Context& c) -> int {
        auto cfg = c.config();
        if (!cfg) return c.out.fail(cfg.error());
        auto roots = workspace::roots_from_config(**cfg);
        if (!roots) return c.out.fail(roots.error());
        if (add_cmd->parsed()) {
            auto type = workspace::parse_activity_type(a->type);
            if (!type) {
                return c.out.fail(base::kExitBadInput, "--type '" + a->type + "' is not one of " +
                                                           workspace::activity_type_names());
            }
            workspace::NewActivity entry;
            entry.type = *type;
            entry.title = a->title;
            if (tokens->count() > 0) entry.read_tokens = a->read_tokens;
            if (add_project->count() > 0) {
                entry.project = a->project;
            } else {
                std::error_code ec;
                auto cwd = std::filesystem::current_path(ec);
                std::string p = ec ? "" : workspace::project_for_path(*roots, cwd);
                if (!p.empty()) entry.project = p;
            }
            auto rec = workspace::add_activity(*roots, entry, std::time(nullptr));
            if (!rec) return c.out.fail(rec.error());
            if (c.out.json) {
                c.out.emit_json(
                    {{"id", rec->id},
                     {"created_at_s", rec->created_at_s},
                     {"type", rec->type},
                     {"title", rec->title},
                     {"project", rec->project ? nlohmann::json(*rec->project) : nullptr},
                     {"read_tokens", rec->read_tokens}});
            } else {
                c.out.emit_text(fmt::format("#{} {} {} (~{} tokens{})\n", rec->id, rec->type,
                                            rec->title, rec->read_tokens,
                                            rec->project ? ", project " + *rec->project : ""));
            }
            return 0;
        }
        if (render_cmd->parsed()) {
            std::optional<std::string> project;
            if (render_project->count() > 0) project = a->project;
            auto r = workspace::render_activity(*roots, a->file, project, std::time(nullptr));
            if (!r) return c.out.fail(r.error());
            if (c.out.json) {
                c.out.emit_json({{"file", r->file.string()},
                                 {"project", r->project ? nlohmann::json(*r->project) : nullptr},
                                 {"entries", r->entries},
                                 {"changed", r->changed}});
            } else {
                c.out.emit_text(fmt::format("{}: {} {} ({}){}\n", r->file.string(), r->entries,
                                            r->entries == 1 ? "entry" : "entries",
                                            r->project ? "project " + *r->project : "all projects",
                                            r->changed ? "" : ", unchanged"));
            }
            return 0;
        }
        return c.out.fail(base::kExitBadInput, "activity: expected a subcommand: add, render");
    };
}

}  // namespace sparkctl::cli
