#include "workspace/roots.h"

#include <system_error>

namespace sparkctl::workspace {

namespace fs = std::filesystem;
using base::Errc;
using base::make_error;
using base::Result;

fs::path expand_home(std::string_view path, const char* home) {
    if (home == nullptr || *home == '\0') return fs::path(path);
    if (path == "~") return fs::path(home);
    if (path.size() >= 2 && path[0] == '~' && path[1] == '/') {
        return fs::path(home) / fs::path(path.substr(2));
    }
    return fs::path(path);
}

namespace {

Result<void> require_dir(const fs::path& dir, std::string_view what, std::string_view key,
                         std::string_view env) {
    std::error_code ec;
    auto st = fs::status(dir, ec);
    std::string how =
        "; create it, or set '" + std::string(key) + "' in the config file or $" + std::string(env);
    if (!fs::exists(st)) {
        return make_error(Errc::not_found,
                          std::string(what) + " " + dir.string() + " does not exist" + how);
    }
    if (!fs::is_directory(st)) {
        return make_error(Errc::bad_input,
                          std::string(what) + " " + dir.string() + " is not a directory" + how);
    }
    return {};
}

}  // namespace

Result<void> require_github_root(const Roots& roots) {
    return require_dir(roots.github_root, "github root", "github_root", "SPARKCTL_GITHUB_ROOT");
}

Result<void> require_claude_home(const Roots& roots) {
    return require_dir(roots.claude_home, "claude home", "claude_home", "SPARKCTL_CLAUDE_HOME");
}

Result<std::vector<CreatedRoot>> ensure_roots(const Roots& roots) {
    struct Wanted {
        const char* what;
        fs::path dir;
        const char* how;  // how to point the setting elsewhere
    };
    const Wanted wanted[] = {
        {"github root", roots.github_root,
         "; set 'github_root' in the config file or $SPARKCTL_GITHUB_ROOT"},
        {"claude home", roots.claude_home,
         "; set 'claude_home' in the config file or $SPARKCTL_CLAUDE_HOME"},
        {".aidocs/repos", roots.index_path().parent_path(), ""},
        {".aidocs/plans", roots.plans_dir(), ""},
    };
    std::vector<CreatedRoot> created;
    for (const Wanted& w : wanted) {
        std::error_code ec;
        bool made = fs::create_directories(w.dir, ec);
        if (ec) {
            std::error_code ignored;
            if (fs::exists(w.dir, ignored) && !fs::is_directory(w.dir, ignored)) {
                return make_error(Errc::bad_input, std::string(w.what) + " " + w.dir.string() +
                                                       " is not a directory" + w.how);
            }
            return make_error(Errc::io, std::string(w.what) + " " + w.dir.string() +
                                            ": cannot create directory: " + ec.message() + w.how);
        }
        if (made) created.push_back({w.what, w.dir});
    }
    return created;
}

std::string project_for_path(const Roots& roots, const fs::path& dir) {
    std::error_code ec;
    fs::path root = fs::weakly_canonical(roots.github_root, ec);
    if (ec) return "";
    fs::path here = fs::weakly_canonical(dir, ec);
    if (ec) return "";
    auto r = root.begin();
    auto h = here.begin();
    for (; r != root.end(); ++r, ++h) {
        if (r->empty()) continue;  // a trailing separator
        if (h == here.end() || *r != *h) return "";
    }
    while (h != here.end() && h->empty()) ++h;
    if (h == here.end()) return "";
    return h->string();
}

}  // namespace sparkctl::workspace
