// Facts about a project directory for the index: remote, primary language, last commit date.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace sparkctl::workspace {

// The programming language of a file by its name ("src/a.cpp" -> "C++"), or "" for files that
// are not code (docs, data, config). ".h" is reported as "C" (primary_language reassigns it).
std::string language_of(std::string_view path);

// The language with the most tracked files; ".h" files count as C++ when the repository has
// more C++ than C sources. Ties go to the alphabetically first. "" when no file is code. Pure.
std::string primary_language(const std::vector<std::string>& tracked_files);

struct RepoInfo {
    bool is_git = false;      // `dir` is the top level of its own git work tree
    std::string remote;       // `git remote get-url origin`, "" when none
    std::string language;     // primary_language(`git ls-files`)
    std::string last_commit;  // `git log -1 --format=%cs` (YYYY-MM-DD), "" when no commit
};

// Runs git in `dir` (best effort: a missing git or a non-repository gives empty fields, never an
// error). A directory inside a parent repository but not its own top level is not a repo.
RepoInfo inspect_repo(const std::filesystem::path& dir);

}  // namespace sparkctl::workspace
