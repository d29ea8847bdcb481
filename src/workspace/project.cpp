#include "workspace/project.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "base/log.h"
#include "base/process.h"
#include "base/strings.h"
#include "workspace/detail/fs.h"
#include "workspace/template.h"

namespace sparkctl::workspace {

namespace fs = std::filesystem;
using base::Errc;
using base::make_error;
using base::Result;

Result<void> validate_project_name(std::string_view name) {
    auto bad = [&](const std::string& why) {
        return make_error(Errc::bad_input, "project name '" + base::printable(name) + "' " + why +
                                               " (a name is one path segment, R-WS-1)");
    };
    if (name.empty()) return bad("is empty");
    if (name.size() > 255) return bad("is longer than 255 bytes");
    if (name == "." || name == "..") return bad("is not a directory name");
    if (name.front() == '-') return bad("starts with '-'");
    for (char c : name) {
        auto u = static_cast<unsigned char>(c);
        if (c == '/') return bad("contains '/'");
        if (u < 0x20 || u == 0x7f) return bad("contains a control character");
    }
    return {};
}

namespace {

// Undoes what new_project created when a later step fails.
class Rollback {
  public:
    ~Rollback() {
        if (committed_) return;
        std::error_code ec;
        if (dir_) {
            fs::remove_all(*dir_, ec);
            return;
        }
        for (auto it = paths_.rbegin(); it != paths_.rend(); ++it) fs::remove(*it, ec);
    }
    void own_dir(fs::path dir) { dir_ = std::move(dir); }
    void add(fs::path p) { paths_.push_back(std::move(p)); }
    void commit() { committed_ = true; }

  private:
    std::optional<fs::path> dir_;
    std::vector<fs::path> paths_;  // created files and directories, in creation order
    bool committed_ = false;
};

std::string tail_lines(const std::string& text, std::size_t max_lines) {
    std::string_view v = base::trim(text);
    std::size_t pos = v.size();
    for (std::size_t n = 0; n < max_lines && pos != std::string_view::npos && pos > 0; ++n) {
        pos = v.rfind('\n', pos - 1);
    }
    if (pos != std::string_view::npos && pos < v.size() && v[pos] == '\n') ++pos;
    if (pos == std::string_view::npos) pos = 0;
    return std::string(v.substr(pos));
}

Result<void> git_clone(const std::string& url, const fs::path& dest) {
    base::RunOptions opts;
    opts.env_set = {{"GIT_TERMINAL_PROMPT", "0"}};
    auto r = base::run_process({"git", "clone", "--quiet", "--", url, dest.string()}, opts);
    if (!r) return base::with_context(r.error(), "git clone " + base::printable(url));
    if (r->exit_code != 0) {
        return make_error(Errc::io, "git clone " + base::printable(url) + " failed: " +
                                        base::printable(tail_lines(r->stderr_text, 3), 400));
    }
    return {};
}

void git_init(const fs::path& dest) {
    auto r = base::run_process({"git", "init", "--quiet", dest.string()});
    if (!r) {
        base::log_warn(dest.string() + ": not a git repository (" + r.error().message + ")");
    } else if (r->exit_code != 0) {
        base::log_warn(dest.string() + ": git init failed: " + tail_lines(r->stderr_text, 2));
    }
}

// Creates the missing ancestors of `file` below `top`, recording each for rollback.
Result<void> make_parents(const fs::path& top, const fs::path& file, Rollback& rollback) {
    std::vector<fs::path> missing;
    std::error_code ec;
    for (fs::path p = file.parent_path(); p != top && !p.empty() && !fs::exists(p, ec);
         p = p.parent_path()) {
        missing.push_back(p);
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
        if (::mkdir(it->c_str(), 0755) == 0) {
            rollback.add(*it);
        } else if (errno != EEXIST) {
            return make_error(Errc::io,
                              it->string() + ": cannot create directory: " + std::strerror(errno));
        }
    }
    return {};
}

}  // namespace

Result<NewProjectResult> new_project(const Roots& roots, const NewProjectOptions& options) {
    SPARKCTL_TRY(validate_project_name(options.name));
    if (options.adopt && options.from_git) {
        return make_error(Errc::bad_input,
                          "--adopt and --from-git exclude each other: adopt an existing "
                          "directory, or clone into a new one");
    }
    auto created_roots = ensure_roots(roots);
    if (!created_roots) return created_roots.error();

    NewProjectResult result;
    result.created_roots = std::move(created_roots).value();
    result.path = roots.github_root / options.name;
    const fs::path& dest = result.path;
    Rollback rollback;
    if (options.adopt) {
        std::error_code ec;
        auto st = fs::status(dest, ec);
        if (!fs::exists(st)) {
            return make_error(Errc::not_found, dest.string() +
                                                   " does not exist: nothing to adopt (drop "
                                                   "--adopt to create it)");
        }
        if (!fs::is_directory(st)) {
            return make_error(Errc::bad_input, dest.string() + " is not a directory");
        }
    } else {
        // mkdir claims the name: of concurrent runs for one name exactly one gets here.
        if (::mkdir(dest.c_str(), 0755) != 0) {
            if (errno == EEXIST) {
                return make_error(Errc::bad_input,
                                  dest.string() +
                                      " already exists; nothing was changed (use --adopt to "
                                      "add only the missing template files)");
            }
            return make_error(Errc::io,
                              dest.string() + ": cannot create directory: " + std::strerror(errno));
        }
        rollback.own_dir(dest);
        if (options.from_git) {
            SPARKCTL_TRY(git_clone(*options.from_git, dest));
            result.cloned = true;
        } else {
            git_init(dest);
        }
    }

    for (const TemplateFile& f : project_template(options.name, options.description)) {
        fs::path path = dest / f.relative_path;
        SPARKCTL_TRY(make_parents(dest, path, rollback));
        auto created = detail::create_file_exclusive(path, f.contents);
        if (!created) return created.error();
        if (*created) {
            rollback.add(path);
            result.created.push_back(f.relative_path);
        } else {
            result.kept.push_back(f.relative_path);
        }
    }

    result.row = describe_project(dest, options.description);
    SPARKCTL_TRY(add_to_index(roots, result.row));
    rollback.commit();
    return result;
}

}  // namespace sparkctl::workspace
