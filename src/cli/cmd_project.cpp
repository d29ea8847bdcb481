// sparkctl project new|index|list|save-plan: the workspace conventions R-WS-1..4.
#include <fmt/format.h>

#include <cstdio>
#include <ctime>
#include <memory>

#include "base/exit_status.h"
#include "base/file.h"
#include "cli/command.h"
#include "workspace/index.h"
#include "workspace/plans.h"
#include "workspace/project.h"
#include "workspace/roots.h"

namespace sparkctl::cli {

namespace {

struct ProjectArgs {
    std::string name;
    std::string from_git;
    std::string description;
    bool adopt = false;
    std::string plan_description;
    std::string plan_file = "-";
};

// Each leaf takes the workspace roots as flags, and the global flags after it (--json).
CLI::App* add_leaf(CLI::App& app, Context& ctx, const char* name, const char* help) {
    return ctx.add_subcommand(app, name, help, {"github_root", "claude_home", "data_dir"});
}

base::Result<workspace::Roots> resolve_roots(Context& c) {
    auto cfg = c.config();
    if (!cfg) return cfg.error();
    return workspace::roots_from_config(**cfg);
}

nlohmann::json row_json(const workspace::IndexRow& r) {
    return {{"name", r.name},         {"path", r.path},
            {"remote", r.remote},     {"description", r.description},
            {"language", r.language}, {"last_commit", r.last_commit}};
}

std::string rows_text(const std::vector<workspace::IndexRow>& rows) {
    std::size_t name_w = 4;
    std::size_t lang_w = 8;
    for (const auto& r : rows) {
        name_w = std::max(name_w, r.name.size());
        lang_w = std::max(lang_w, r.language.size());
    }
    std::string out = fmt::format("{:<{}}  {:<{}}  {:<11}  {}\n", "NAME", name_w, "LANGUAGE",
                                  lang_w, "LAST COMMIT", "DESCRIPTION");
    for (const auto& r : rows) {
        out += fmt::format("{:<{}}  {:<{}}  {:<11}  {}\n", r.name, name_w, r.language, lang_w,
                           r.last_commit.empty() ? "-" : r.last_commit, r.description);
    }
    return out;
}

base::Result<std::string> read_plan_text(const std::string& file) {
    if (file != "-") {
        auto text = base::read_file(file, 16u << 20);
        if (!text) return text.error();
        return std::move(text).value();
    }
    std::string text;
    char buf[65536];
    for (;;) {
        std::size_t n = std::fread(buf, 1, sizeof buf, stdin);
        text.append(buf, n);
        if (text.size() > (16u << 20)) {
            return base::make_error(base::Errc::bad_input, "stdin: plan larger than 16 MiB");
        }
        if (n < sizeof buf) break;
    }
    if (std::ferror(stdin)) return base::make_error(base::Errc::io, "stdin: read failed");
    return text;
}

int run_new(Context& c, const workspace::Roots& roots, const ProjectArgs& a, bool from_git) {
    workspace::NewProjectOptions opts;
    opts.name = a.name;
    if (from_git) opts.from_git = a.from_git;
    opts.description = a.description;
    opts.adopt = a.adopt;
    auto r = workspace::new_project(roots, opts);
    if (!r) return c.out.fail(r.error());
    // A first call on a fresh HOME created the convention's folders: say so, on stderr in both
    // modes (stdout keeps its one document).
    nlohmann::json created_roots = nlohmann::json::array();
    for (const auto& root : r->created_roots) {
        std::fprintf(stderr, "sparkctl: created %s %s\n", root.what.c_str(), root.path.c_str());
        created_roots.push_back({{"what", root.what}, {"path", root.path.string()}});
    }
    if (c.out.json) {
        c.out.emit_json({{"path", r->path.string()},
                         {"cloned_from", from_git ? nlohmann::json(a.from_git) : nullptr},
                         {"adopted", a.adopt},
                         {"created", r->created},
                         {"kept", r->kept},
                         {"index", roots.index_path().string()},
                         {"created_roots", created_roots},
                         {"project", row_json(r->row)}});
        return 0;
    }
    std::string how = a.adopt ? "adopted" : from_git ? "cloned " + a.from_git + " into" : "created";
    std::string text = fmt::format("{} {}\n", how, r->path.string());
    for (const auto& f : r->created) text += fmt::format("  added {}\n", f);
    for (const auto& f : r->kept) text += fmt::format("  kept  {} (exists)\n", f);
    text += fmt::format("indexed in {}\n", roots.index_path().string());
    c.out.emit_text(text);
    return 0;
}

}  // namespace

Action setup_project(CLI::App& app, Context& ctx) {
    app.require_subcommand(1);
    auto a = std::make_shared<ProjectArgs>();

    CLI::App* new_cmd = add_leaf(app, ctx, "new",
                                 "Create <github root>/NAME with the .aidocs/ + CLAUDE.md "
                                 "template and add it to the index (R-WS-1, R-WS-4)");
    new_cmd->add_option("NAME", a->name, "Project name: one path segment")->required();
    CLI::Option* from_git =
        new_cmd->add_option("--from-git", a->from_git, "Clone this git URL or path into it");
    new_cmd->add_option("--description", a->description, "One line for CLAUDE.md and the index");
    new_cmd->add_flag("--adopt", a->adopt,
                      "The directory exists: add only the missing template files");

    CLI::App* index_cmd = add_leaf(
        app, ctx, "index",
        "Rebuild the index by scanning the github root, keeping edited descriptions (R-WS-2)");
    CLI::App* list_cmd = add_leaf(app, ctx, "list", "Show the project index (R-WS-2)");

    CLI::App* plan_cmd =
        add_leaf(app, ctx, "save-plan",
                 "Save a plan as <claude home>/.aidocs/plans/<MM-DD>-<slug>.md (R-WS-3)");
    plan_cmd->add_option("DESCRIPTION", a->plan_description, "3 or 4 words, e.g. \"fix gpu oom\"")
        ->required();
    plan_cmd->add_option("FILE", a->plan_file, "The plan text: a file, or - for stdin (default)");

    return [=](Context& c) -> int {
        auto roots = resolve_roots(c);
        if (!roots) return c.out.fail(roots.error());
        if (new_cmd->parsed()) return run_new(c, *roots, *a, from_git->count() > 0);
        if (index_cmd->parsed()) {
            auto rows = workspace::rebuild_index(*roots);
            if (!rows) return c.out.fail(rows.error());
            if (c.out.json) {
                nlohmann::json list = nlohmann::json::array();
                for (const auto& r : *rows) list.push_back(row_json(r));
                c.out.emit_json({{"index", roots->index_path().string()}, {"projects", list}});
            } else {
                c.out.emit_text(fmt::format("indexed {} projects in {}\n", rows->size(),
                                            roots->index_path().string()));
            }
            return 0;
        }
        if (list_cmd->parsed()) {
            auto doc = workspace::read_index(*roots);
            if (!doc) return c.out.fail(doc.error());
            if (c.out.json) {
                nlohmann::json list = nlohmann::json::array();
                for (const auto& r : doc->rows) list.push_back(row_json(r));
                c.out.emit_json({{"index", roots->index_path().string()}, {"projects", list}});
            } else if (doc->rows.empty()) {
                std::fprintf(stderr, "no projects in %s (run `sparkctl project index`)\n",
                             roots->index_path().c_str());
            } else {
                c.out.emit_text(rows_text(doc->rows));
            }
            return 0;
        }
        if (plan_cmd->parsed()) {
            // Check the description before reading stdin, so a bad one fails at once.
            auto slug = workspace::plan_slug(a->plan_description);
            if (!slug) return c.out.fail(slug.error());
            auto text = read_plan_text(a->plan_file);
            if (!text) return c.out.fail(text.error());
            auto path =
                workspace::save_plan(*roots, a->plan_description, *text, std::time(nullptr));
            if (!path) return c.out.fail(path.error());
            if (c.out.json) {
                c.out.emit_json({{"path", path->string()}});
            } else {
                c.out.emit_text(path->string() + "\n");
            }
            return 0;
        }
        return c.out.fail(base::kExitBadInput,
                          "project: expected a subcommand: new, index, list, save-plan");
    };
}

}  // namespace sparkctl::cli
