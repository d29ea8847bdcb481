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
