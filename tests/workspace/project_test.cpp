#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "support/git_env.h"
#include "workspace/index.h"
#include "workspace/project.h"
#include "workspace/repo_info.h"
#include "workspace/roots_fixture.h"
#include "workspace/template.h"

namespace sparkctl::workspace {
namespace {

namespace fs = std::filesystem;

TEST(ProjectName, OnePathSegment) {
    for (const char* ok : {"sparkctl", "my.project", "a_b-c", "UPPER", "with space"}) {
        EXPECT_TRUE(validate_project_name(ok).ok()) << ok;
    }
    for (const char* bad : {"", ".", "..", "a/b", "/abs", "-flag", "tab\there", "nl\n"}) {
        auto r = validate_project_name(bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_EQ(r.error().code, base::Errc::bad_input);
        EXPECT_NE(r.error().message.find("project name"), std::string::npos);
    }
    EXPECT_NE(validate_project_name("a/b").error().message.find("'/'"), std::string::npos);
    EXPECT_FALSE(validate_project_name(std::string(256, 'a')).ok());
}

TEST(Template, AidocsFoldersWithReadmesAndAShortClaudeMdPointingIntoThem) {
    auto files = project_template("demo", "A demo project.");
    std::set<std::string> paths;
    std::string claude;
    for (const auto& f : files) {
        paths.insert(f.relative_path);
        if (f.relative_path == "CLAUDE.md") claude = f.contents;
        EXPECT_FALSE(f.contents.empty()) << f.relative_path;
    }
    for (const char* p : {"CLAUDE.md", ".aidocs/README.md", ".aidocs/codebase/README.md",
                          ".aidocs/sdk/README.md", ".aidocs/research/README.md"}) {
        EXPECT_TRUE(paths.count(p)) << p;
    }
    EXPECT_EQ(claude.rfind("# demo\n\nA demo project.\n", 0), 0u) << claude;
    for (const char* p : {".aidocs/codebase/", ".aidocs/sdk/", ".aidocs/research/"}) {
        EXPECT_NE(claude.find(p), std::string::npos) << p;
    }
    EXPECT_LT(std::count(claude.begin(), claude.end(), '\n'), 60)
        << "short: progressive disclosure";
    EXPECT_NE(claude.find("<claude-mem-context>\n</claude-mem-context>\n"), std::string::npos);
}

class ProjectTest : public testing::RootsTest {
  protected:
    void SetUp() override {
        RootsTest::SetUp();
        test::use_git_test_env();
    }
};

TEST_F(ProjectTest, ProjectForPath) {
    make_roots();
    fs::create_directories(roots_.github_root / "p" / "src");
    EXPECT_EQ(project_for_path(roots_, roots_.github_root / "p" / "src"), "p");
    EXPECT_EQ(project_for_path(roots_, roots_.github_root / "p"), "p");
    EXPECT_EQ(project_for_path(roots_, roots_.github_root), "");
    EXPECT_EQ(project_for_path(roots_, dir_), "");
    fs::create_directory_symlink(roots_.github_root / "p", dir_ / "link");
    EXPECT_EQ(project_for_path(roots_, dir_ / "link" / "src"), "p");
}

TEST_F(ProjectTest, NewCreatesTemplateGitRepoAndIndexRow) {
    make_roots();
    NewProjectOptions o;
    o.name = "demo";
    o.description = "Demo | with pipe";
    auto r = new_project(roots_, o);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->path, roots_.github_root / "demo");
    EXPECT_TRUE(fs::exists(r->path / ".git"));
    EXPECT_TRUE(fs::exists(r->path / ".aidocs" / "research" / "README.md"));
    EXPECT_EQ(r->created.size(), project_template("demo", "").size());
    auto doc = read_index(roots_);
    ASSERT_TRUE(doc.ok());
    ASSERT_EQ(doc->rows.size(), 1u);
    EXPECT_EQ(doc->rows[0].name, "demo");
    EXPECT_EQ(doc->rows[0].description, "Demo | with pipe");
    EXPECT_EQ(doc->rows[0].path, r->path.string());
}

TEST_F(ProjectTest, ExistingDirectoryIsRefusedAndAdoptAddsOnlyMissingFiles) {
    make_roots();
    auto dir = roots_.github_root / "old";
    write(dir / "CLAUDE.md", "mine\n");
    write(dir / ".aidocs" / "sdk" / "README.md", "my sdk notes\n");
    NewProjectOptions o;
    o.name = "old";
    auto refused = new_project(roots_, o);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, base::Errc::bad_input);
    EXPECT_NE(refused.error().message.find("--adopt"), std::string::npos);
    EXPECT_FALSE(fs::exists(roots_.index_path()));

    o.adopt = true;
    auto r = new_project(roots_, o);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(read(dir / "CLAUDE.md"), "mine\n");
    EXPECT_EQ(read(dir / ".aidocs" / "sdk" / "README.md"), "my sdk notes\n");
    EXPECT_TRUE(fs::exists(dir / ".aidocs" / "codebase" / "README.md"));
    EXPECT_EQ(std::set<std::string>(r->kept.begin(), r->kept.end()),
              (std::set<std::string>{"CLAUDE.md", ".aidocs/sdk/README.md"}));
    EXPECT_FALSE(fs::exists(dir / ".git")) << "adopt does not git init";

    NewProjectOptions missing;
    missing.name = "nothing-here";
    missing.adopt = true;
    auto m = new_project(roots_, missing);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.error().code, base::Errc::not_found);
}

TEST_F(ProjectTest, CloneFromALocalBareRepository) {
    make_roots();
    auto bare = dir_ / "remote.git";
    test::make_bare_repo(dir_ / "scratch", bare,
                         {{"src/a.cpp", "int a;\n"},
                          {"src/b.cpp", "int b;\n"},
                          {"src/b.h", "int b();\n"},
                          {"tool.py", "print()\n"},
                          {"CLAUDE.md", "upstream's own\n"}});
    NewProjectOptions o;
    o.name = "cloned";
    o.from_git = bare.string();
    auto r = new_project(roots_, o);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(r->cloned);
    EXPECT_EQ(read(r->path / "src" / "a.cpp"), "int a;\n");
    EXPECT_EQ(read(r->path / "CLAUDE.md"), "upstream's own\n") << "never overwritten";
    EXPECT_TRUE(fs::exists(r->path / ".aidocs" / "README.md"));
    EXPECT_EQ(r->row.remote, bare.string());
    EXPECT_EQ(r->row.language, "C++");
    EXPECT_EQ(r->row.last_commit, "2024-02-03");

    auto info = inspect_repo(r->path);
    EXPECT_TRUE(info.is_git);
    EXPECT_FALSE(inspect_repo(r->path / "src").is_git) << "a subdirectory is not its own repo";
}

TEST_F(ProjectTest, FailedCloneLeavesNothingBehind) {
    make_roots();
    NewProjectOptions o;
    o.name = "broken";
    o.from_git = (dir_ / "no-such-repo.git").string();
    auto r = new_project(roots_, o);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("git clone"), std::string::npos) << r.error().message;
    EXPECT_FALSE(fs::exists(roots_.github_root / "broken"));
    EXPECT_FALSE(fs::exists(roots_.index_path()));
}

TEST_F(ProjectTest, BadInputChangesNothingAndAFirstCallCreatesTheRoots) {
    NewProjectOptions o;
    o.name = "a/b";
    EXPECT_FALSE(new_project(roots_, o).ok());
    o.name = "ok";
    o.adopt = true;
    o.from_git = "x";
    EXPECT_FALSE(new_project(roots_, o).ok());
    EXPECT_FALSE(fs::exists(roots_.github_root)) << "bad input is refused before any mkdir";
    EXPECT_FALSE(fs::exists(roots_.claude_home));

    // A fresh HOME: neither root exists. The first call creates the convention's folders.
    NewProjectOptions first;
    first.name = "x";
    auto r = new_project(roots_, first);
    ASSERT_TRUE(r.ok()) << r.error().message;
    std::vector<std::pair<std::string, fs::path>> created;
    for (const auto& c : r->created_roots) created.emplace_back(c.what, c.path);
    EXPECT_EQ(created, (std::vector<std::pair<std::string, fs::path>>{
                           {"github root", roots_.github_root},
                           {"claude home", roots_.claude_home},
                           {".aidocs/repos", roots_.aidocs_dir() / "repos"},
                           {".aidocs/plans", roots_.plans_dir()}}));
    EXPECT_TRUE(fs::exists(roots_.github_root / "x" / "CLAUDE.md"));
    EXPECT_TRUE(fs::is_directory(roots_.plans_dir()));
    EXPECT_TRUE(fs::exists(roots_.index_path()));

    first.name = "y";
    auto again = new_project(roots_, first);
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_TRUE(again->created_roots.empty()) << "only what was missing is reported";
}

TEST_F(ProjectTest, ARootThatIsAFileIsBadInput) {
    write(roots_.github_root, "not a directory");
    NewProjectOptions o;
    o.name = "x";
    auto r = new_project(roots_, o);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::bad_input);
    EXPECT_NE(r.error().message.find("github root " + roots_.github_root.string()),
              std::string::npos)
        << r.error().message;
    EXPECT_NE(r.error().message.find("not a directory"), std::string::npos) << r.error().message;
}

TEST_F(ProjectTest, ConcurrentNewForOneNameHasExactlyOneWinner) {
    make_roots();
    constexpr int kThreads = 6;
    std::vector<int> ok(kThreads, 0);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
        threads.emplace_back([&, i] {
            NewProjectOptions o;
            o.name = "race";
            ok[i] = new_project(roots_, o).ok() ? 1 : 0;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(std::count(ok.begin(), ok.end(), 1), 1);
    auto doc = read_index(roots_);
    ASSERT_TRUE(doc.ok());
    EXPECT_EQ(doc->rows.size(), 1u);
}

TEST_F(ProjectTest, RebuildScansTheRootAndKeepsHandEditedDescriptions) {
    make_roots();
    for (const char* n : {"b-proj", "a-proj"}) {
        NewProjectOptions o;
        o.name = n;
        ASSERT_TRUE(new_project(roots_, o).ok());
    }
    fs::create_directories(roots_.github_root / "plain-dir");
    fs::create_directories(roots_.github_root / ".hidden");
    write(roots_.github_root / "a-file", "x");
    // A hand edit: a description, prose after the table, and a row for a removed project.
    std::string text = read(roots_.index_path());
    auto pos = text.find("| a-proj | ");
    ASSERT_NE(pos, std::string::npos);
    auto doc = parse_index(text);
    for (auto& row : doc.rows) {
        if (row.name == "a-proj") row.description = "Hand | written";
    }
    doc.rows.push_back({"removed", "/x", "", "stale", "", ""});
    doc.after = "\nMy notes stay.\n";
    write(roots_.index_path(), render_index(doc, roots_.github_root.string()));

    auto rows = rebuild_index(roots_);
    ASSERT_TRUE(rows.ok()) << rows.error().message;
    ASSERT_EQ(rows->size(), 3u);
    EXPECT_EQ((*rows)[0].name, "a-proj");
    EXPECT_EQ((*rows)[0].description, "Hand | written");
    EXPECT_EQ((*rows)[2].name, "plain-dir");
    std::string after = read(roots_.index_path());
    EXPECT_NE(after.find("Hand \\| written"), std::string::npos);
    EXPECT_EQ(after.find("removed"), std::string::npos);
    EXPECT_EQ(after.substr(after.size() - 16), "\nMy notes stay.\n");
}

}  // namespace
}  // namespace sparkctl::workspace
