#include "workspace/repo_info.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <system_error>
#include <utility>

#include "base/process.h"
#include "base/strings.h"

namespace sparkctl::workspace {

namespace fs = std::filesystem;

namespace {

struct ExtensionLanguage {
    const char* extension;  // lowercase, with the dot
    const char* language;
};

// Programming languages only: docs, data and build files never decide a repository's language.
const ExtensionLanguage kExtensions[] = {
    {".c", "C"},
    {".h", "C"},
    {".cc", "C++"},
    {".cpp", "C++"},
    {".cxx", "C++"},
    {".c++", "C++"},
    {".hh", "C++"},
    {".hpp", "C++"},
    {".hxx", "C++"},
    {".inl", "C++"},
    {".ipp", "C++"},
    {".cu", "CUDA"},
    {".cuh", "CUDA"},
    {".py", "Python"},
    {".pyi", "Python"},
    {".pyx", "Cython"},
    {".ipynb", "Jupyter Notebook"},
    {".rs", "Rust"},
    {".go", "Go"},
    {".java", "Java"},
    {".kt", "Kotlin"},
    {".kts", "Kotlin"},
    {".scala", "Scala"},
    {".swift", "Swift"},
    {".m", "Objective-C"},
    {".mm", "Objective-C++"},
    {".cs", "C#"},
    {".fs", "F#"},
    {".js", "JavaScript"},
    {".mjs", "JavaScript"},
    {".cjs", "JavaScript"},
    {".jsx", "JavaScript"},
    {".ts", "TypeScript"},
    {".tsx", "TypeScript"},
    {".vue", "Vue"},
    {".svelte", "Svelte"},
    {".html", "HTML"},
    {".css", "CSS"},
    {".scss", "SCSS"},
    {".sh", "Shell"},
    {".bash", "Shell"},
    {".zsh", "Shell"},
    {".rb", "Ruby"},
    {".php", "PHP"},
    {".pl", "Perl"},
    {".lua", "Lua"},
    {".r", "R"},
    {".jl", "Julia"},
    {".hs", "Haskell"},
    {".ml", "OCaml"},
    {".ex", "Elixir"},
    {".exs", "Elixir"},
    {".erl", "Erlang"},
    {".clj", "Clojure"},
    {".dart", "Dart"},
    {".zig", "Zig"},
    {".nim", "Nim"},
    {".sql", "SQL"},
    {".f90", "Fortran"},
    {".f", "Fortran"},
    {".asm", "Assembly"},
    {".s", "Assembly"},
    {".proto", "Protocol Buffer"},
};

}  // namespace

std::string language_of(std::string_view path) {
    std::size_t slash = path.rfind('/');
    std::string_view file = slash == std::string_view::npos ? path : path.substr(slash + 1);
    std::size_t dot = file.rfind('.');
    if (dot == std::string_view::npos || dot == 0) return "";
    std::string ext = base::to_lower(file.substr(dot));
    for (const ExtensionLanguage& e : kExtensions) {
        if (ext == e.extension) return e.language;
    }
    return "";
}

std::string primary_language(const std::vector<std::string>& tracked_files) {
    std::map<std::string, std::size_t> counts;
    std::size_t headers = 0;
    for (const std::string& f : tracked_files) {
        std::string lang = language_of(f);
        if (lang.empty()) continue;
        std::string lower = base::to_lower(f);
        if (lower.size() >= 2 && lower.compare(lower.size() - 2, 2, ".h") == 0) {
            ++headers;
            continue;
        }
        ++counts[lang];
    }
    if (headers > 0) {
        bool cxx = counts["C++"] > counts["C"] || (counts["C"] == 0 && counts["CUDA"] > 0);
        counts[cxx ? "C++" : "C"] += headers;
    }
    std::string best;
    std::size_t best_count = 0;
    for (const auto& [lang, n] : counts) {  // map order: ties go to the first name
        if (n > best_count) {
            best = lang;
            best_count = n;
        }
    }
    return best;
}

namespace {

// Runs git with a fixed environment; nullopt-like empty result on any failure.
bool git(const fs::path& dir, std::vector<std::string> args, std::string& out) {
    std::vector<std::string> argv = {"git", "-C", dir.string()};
    for (std::string& a : args) argv.push_back(std::move(a));
    base::RunOptions opts;
    opts.env_set = {{"GIT_TERMINAL_PROMPT", "0"}, {"LC_ALL", "C"}};
    opts.timeout = std::chrono::seconds(30);
    auto r = base::run_process(argv, opts);
    if (!r || r->exit_code != 0) return false;
    out = std::move(r->stdout_text);
    return true;
}

std::string first_line(const std::string& s) {
    std::string_view v = s;
    std::size_t nl = v.find('\n');
    if (nl != std::string_view::npos) v = v.substr(0, nl);
    return std::string(base::trim(v));
}

}  // namespace

RepoInfo inspect_repo(const fs::path& dir) {
    RepoInfo info;
    std::string out;
    if (!git(dir, {"rev-parse", "--show-toplevel"}, out)) return info;
    std::error_code ec1;
    std::error_code ec2;
    fs::path top = fs::canonical(first_line(out), ec1);
    fs::path here = fs::canonical(dir, ec2);
    if (ec1 || ec2 || top != here) return info;
    info.is_git = true;
    if (git(dir, {"remote", "get-url", "origin"}, out)) info.remote = first_line(out);
    if (git(dir, {"ls-files", "-z"}, out)) {
        std::vector<std::string> files;
        std::size_t start = 0;
        while (start < out.size()) {
            std::size_t end = out.find('\0', start);
            if (end == std::string::npos) end = out.size();
            if (end > start) files.emplace_back(out, start, end - start);
            start = end + 1;
        }
        info.language = primary_language(files);
    }
    if (git(dir, {"log", "-1", "--format=%cs"}, out)) info.last_commit = first_line(out);
    return info;
}

}  // namespace sparkctl::workspace
