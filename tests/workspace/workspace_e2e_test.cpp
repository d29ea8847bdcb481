// End-to-end tests of `sparkctl project` and `sparkctl activity`: the real binary (path in
// $SPARKCTL_BINARY) in a temporary HOME whose default roots (~/dev/github, ~/dev/claude-home)
// and XDG directories all point inside it. Concurrency is tested with several real processes.
#include <gtest/gtest.h>
#include <ctime>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "base/file.h"
#include "support/git_env.h"
#include "support/sandbox.h"

namespace sparkctl::workspace {
namespace {

namespace fs = std::filesystem;

// The shared sandbox (support/sandbox.h) with the default roots (~/dev/github,
// ~/dev/claude-home) made, unless a test wants a fresh HOME.
class Home : public test::Sandbox {
  public:
    explicit Home(bool make_roots = true) {
        if (make_roots) {
            fs::create_directories(github());
            fs::create_directories(claude_home());
        }
    }

    fs::path github() const { return home() / "dev" / "github"; }
    fs::path claude_home() const { return home() / "dev" / "claude-home"; }
    fs::path index() const { return claude_home() / ".aidocs" / "repos" / "index.md"; }
    fs::path plans() const { return claude_home() / ".aidocs" / "plans"; }

    // A plan text file to pass as FILE.
    fs::path write_plan_source() const {
        auto p = home() / "plan-source.md";
        if (!fs::exists(p)) write("plan-source.md", "from a file\n");
        return p;
    }
};

std::string read(const fs::path& p) {
    auto r = base::read_file(p, 1u << 24);
    EXPECT_TRUE(r.ok()) << p;
    return r.ok() ? *r : "";
}

void write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    ASSERT_TRUE(base::write_file_atomic(p, text).ok());
}

// Every file under `dir` with its contents, to prove a failed command changed nothing.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
    std::map<std::string, std::string> files;
    if (!fs::exists(dir)) return files;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        std::string rel = fs::relative(e.path(), dir).string();
        files[rel] = e.is_regular_file() ? read(e.path()) : "<dir>";
    }
    return files;
}

std::map<std::string, nlohmann::json> list_projects(const Home& h) {
    auto r = h.run({"project", "list", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, nlohmann::json> by_name;
    const nlohmann::json doc = r.json();
    for (const auto& p : doc["projects"]) by_name[p["name"].get<std::string>()] = p;
    return by_name;
}

TEST(WorkspaceE2e, ProjectNewUsesDefaultRootsTemplateAndIndex) {
    Home h;
    auto r = h.run({"project", "new", "demo", "--description", "Demo | project", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto doc = r.json();
    auto dir = h.github() / "demo";
    EXPECT_EQ(doc["path"], dir.string());
    for (const char* f : {"CLAUDE.md", ".aidocs/README.md", ".aidocs/codebase/README.md",
                          ".aidocs/sdk/README.md", ".aidocs/research/README.md"}) {
        EXPECT_TRUE(fs::is_regular_file(dir / f)) << f;
    }
    EXPECT_TRUE(fs::exists(dir / ".git"));
    std::string claude = read(dir / "CLAUDE.md");
    EXPECT_NE(claude.find("Demo | project"), std::string::npos);
    EXPECT_NE(claude.find(".aidocs/research/"), std::string::npos);

    std::string index = read(h.index());
    EXPECT_NE(index.find("| Name | Path | Remote | Description | Language | Last commit |"),
              std::string::npos)
        << index;
    EXPECT_NE(index.find("Demo \\| project"), std::string::npos) << index;
    auto projects = list_projects(h);
    ASSERT_EQ(projects.size(), 1u);
    EXPECT_EQ(projects["demo"]["description"], "Demo | project");
    EXPECT_EQ(projects["demo"]["path"], dir.string());

    auto text = h.run({"project", "list"});
    EXPECT_EQ(text.exit_code, 0);
    EXPECT_NE(text.out.find("demo"), std::string::npos);
    EXPECT_NE(text.out.find("Demo | project"), std::string::npos);
}

TEST(WorkspaceE2e, CloneFromALocalBareRepository) {
    Home h;
    auto bare = h.home() / "remotes" / "lib.git";
    test::make_bare_repo(h.home() / "scratch", bare,
                         {{"a.rs", "fn a() {}\n"}, {"b.rs", "fn b() {}\n"}, {"x.py", ""}});
    auto r = h.run({"project", "new", "lib", "--from-git", bare.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(read(h.github() / "lib" / "a.rs"), "fn a() {}\n");
    EXPECT_TRUE(fs::exists(h.github() / "lib" / ".aidocs" / "sdk" / "README.md"));
    auto p = list_projects(h)["lib"];
    EXPECT_EQ(p["remote"], bare.string());
    EXPECT_EQ(p["language"], "Rust");
    EXPECT_EQ(p["last_commit"], "2024-02-03");

    auto bad = h.run({"project", "new", "nope", "--from-git", (h.home() / "missing.git").string()});
    EXPECT_NE(bad.exit_code, 0);
    EXPECT_NE(bad.err.find("git clone"), std::string::npos) << bad.err;
    EXPECT_FALSE(fs::exists(h.github() / "nope"));
}

TEST(WorkspaceE2e, CollisionsAdoptAndBadInputChangeNothing) {
    Home h;
    ASSERT_EQ(h.run({"project", "new", "demo"}).exit_code, 0);
    auto dir = h.github() / "demo";
    write(dir / "CLAUDE.md", "edited by hand\n");
    fs::remove(dir / ".aidocs" / "sdk" / "README.md");
    auto before = snapshot(h.home() / "dev");

    auto again = h.run({"project", "new", "demo", "--json"});
    EXPECT_EQ(again.exit_code, 2);
    EXPECT_NE(again.json()["error"]["message"].get<std::string>().find("already exists"),
              std::string::npos);
    auto slash = h.run({"project", "new", "a/b"});
    EXPECT_EQ(slash.exit_code, 2);
    EXPECT_NE(slash.err.find("'/'"), std::string::npos) << slash.err;
    auto dots = h.run({"project", "new", ".."});
    EXPECT_EQ(dots.exit_code, 2);
    auto plan = h.run({"project", "save-plan", "two words"}, "text");
    EXPECT_EQ(plan.exit_code, 2);
    EXPECT_NE(plan.err.find("3 or 4"), std::string::npos) << plan.err;
    EXPECT_EQ(snapshot(h.home() / "dev"), before);

    auto adopt = h.run({"project", "new", "demo", "--adopt", "--json"});
    ASSERT_EQ(adopt.exit_code, 0) << adopt.err;
    EXPECT_EQ(adopt.json()["created"], nlohmann::json::array({".aidocs/sdk/README.md"}));
    EXPECT_EQ(read(dir / "CLAUDE.md"), "edited by hand\n");
    EXPECT_TRUE(fs::exists(dir / ".aidocs" / "sdk" / "README.md"));
}

TEST(WorkspaceE2e, FreshHomeFirstCallCreatesTheRootsAndSaysSo) {
    Home h(/*make_roots=*/false);
    auto bad = h.run({"project", "new", "a/b"});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_FALSE(fs::exists(h.home() / "dev")) << "bad input creates nothing";

    auto r = h.run({"project", "new", "first", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json doc = r.json();
    EXPECT_EQ(doc["created_roots"],
              nlohmann::json::array(
                  {{{"what", "github root"}, {"path", h.github().string()}},
                   {{"what", "claude home"}, {"path", h.claude_home().string()}},
                   {{"what", ".aidocs/repos"}, {"path", h.index().parent_path().string()}},
                   {{"what", ".aidocs/plans"}, {"path", h.plans().string()}}}));
    EXPECT_NE(r.err.find("sparkctl: created github root " + h.github().string() + "\n"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("sparkctl: created claude home " + h.claude_home().string() + "\n"),
              std::string::npos)
        << r.err;
    EXPECT_TRUE(fs::exists(h.github() / "first" / "CLAUDE.md"));
    EXPECT_TRUE(fs::is_directory(h.plans()));
    EXPECT_EQ(list_projects(h).count("first"), 1u);

    auto second = h.run({"project", "new", "second", "--json"});
    ASSERT_EQ(second.exit_code, 0) << second.err;
    EXPECT_EQ(second.json()["created_roots"], nlohmann::json::array());
    EXPECT_EQ(second.err.find("created"), std::string::npos) << second.err;
}

TEST(WorkspaceE2e, ARootThatIsAFileIsAClearErrorAndEnvOrConfigOverridesTheDefaults) {
    Home h(/*make_roots=*/false);
    write(h.github(), "a file where the root should be\n");
    auto r = h.run({"project", "new", "x", "--json"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("github root " + h.github().string() + " is not a directory"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("SPARKCTL_GITHUB_ROOT"), std::string::npos) << r.err;
    EXPECT_EQ(r.json()["error"]["code"], 2);
    fs::remove(h.github());

    auto gh = h.home() / "elsewhere" / "gh";
    auto ch = h.home() / "elsewhere" / "ch";
    fs::create_directories(gh);
    fs::create_directories(ch);
    h.env["SPARKCTL_GITHUB_ROOT"] = gh.string();
    h.env["SPARKCTL_CLAUDE_HOME"] = ch.string();
    ASSERT_EQ(h.run({"project", "new", "x"}).exit_code, 0);
    EXPECT_TRUE(fs::exists(gh / "x" / "CLAUDE.md"));
    EXPECT_TRUE(fs::exists(ch / ".aidocs" / "repos" / "index.md"));

    h.env.clear();
    auto cfg_gh = h.home() / "cfg-gh";
    fs::create_directories(cfg_gh);
    write(h.home() / ".config" / "sparkctl" / "config.toml",
          "github_root = \"~/cfg-gh\"\nclaude_home = \"" + ch.string() + "\"\n");
    ASSERT_EQ(h.run({"project", "new", "y"}).exit_code, 0);
    EXPECT_TRUE(fs::exists(cfg_gh / "y" / "CLAUDE.md"));
}

TEST(WorkspaceE2e, IndexRebuildKeepsHandEditedDescriptionsAndProse) {
    Home h;
    ASSERT_EQ(h.run({"project", "new", "alpha"}).exit_code, 0);
    ASSERT_EQ(h.run({"project", "new", "beta", "--description", "from flag"}).exit_code, 0);
    fs::create_directories(h.github() / "gamma");
    std::string index = read(h.index());
    auto pos = index.find("| alpha | ");
    ASSERT_NE(pos, std::string::npos);
    auto end = index.find('\n', pos);
    // Hand edit: alpha's row retyped with its description filled in, and notes under the table.
    std::string edited = "|alpha|" + (h.github() / "alpha").string() + "|| My \\| notes ||  |";
    index.replace(pos, end - pos, edited);
    index += "\nHand-written notes below the table.\n";
    write(h.index(), index);

    auto r = h.run({"project", "index", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.json()["projects"].size(), 3u);
    auto projects = list_projects(h);
    EXPECT_EQ(projects["alpha"]["description"], "My | notes");
    EXPECT_EQ(projects["beta"]["description"], "from flag");
    EXPECT_EQ(projects["gamma"]["description"], "");
    EXPECT_NE(read(h.index()).find("\nHand-written notes below the table.\n"), std::string::npos);
}

std::string local_date() {
    std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char date[16];
    std::snprintf(date, sizeof date, "%02d-%02d", local.tm_mon + 1, local.tm_mday);
    return date;
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
}

TEST(WorkspaceE2e, SavePlanFromStdinOrFileWithCollisions) {
    Home h;
    std::string date_before = local_date();
    auto r1 = h.run({"project", "save-plan", "Tune vLLM for agents"}, "# Plan\nstep 1\n");
    ASSERT_EQ(r1.exit_code, 0) << r1.err;
    auto plan_file = h.write_plan_source();
    auto r2 = h.run({"project", "save-plan", "tune VLLM, for agents!", plan_file.string()});
    ASSERT_EQ(r2.exit_code, 0) << r2.err;
    auto r3 = h.run({"project", "save-plan", "tune vllm for agents", "-", "--json"}, "third\n");
    ASSERT_EQ(r3.exit_code, 0) << r3.err;
    std::string date_after = local_date();

    fs::path p1 = trimmed(r1.out);
    std::string name = p1.filename().string();
    EXPECT_TRUE(name == date_before + "-tune-vllm-for-agents.md" ||
                name == date_after + "-tune-vllm-for-agents.md")
        << name;
    EXPECT_EQ(p1.parent_path(), h.plans());
    EXPECT_EQ(read(p1), "# Plan\nstep 1\n");
    fs::path p2 = trimmed(r2.out);
    EXPECT_EQ(p2.filename().string(), p1.stem().string() + "-2.md");
    EXPECT_EQ(read(p2), "from a file\n");
    fs::path p3 = r3.json()["path"].get<std::string>();
    EXPECT_EQ(p3.filename().string(), p1.stem().string() + "-3.md");
    EXPECT_EQ(read(p3), "third\n");

    auto five = h.run({"project", "save-plan", "one two three four five"}, "x");
    EXPECT_EQ(five.exit_code, 2);
    EXPECT_NE(five.err.find("R-WS-3"), std::string::npos) << five.err;
    auto empty = h.run({"project", "save-plan", "a b c"}, "");
    EXPECT_EQ(empty.exit_code, 2);
    std::size_t files = 0;
    for (const auto& e : fs::directory_iterator(h.plans())) {
        (void)e;
        ++files;
    }
    EXPECT_EQ(files, 3u);
}

TEST(WorkspaceE2e, ConcurrentRunsLoseNothing) {
    Home h;
    constexpr int kProcs = 8;
    std::vector<std::vector<std::string>> news;
    std::vector<std::vector<std::string>> plans;
    std::vector<std::vector<std::string>> adds;
    std::vector<std::vector<std::string>> same;
    for (int i = 0; i < kProcs; ++i) {
        news.push_back({"project", "new", "p" + std::to_string(i)});
        plans.push_back({"project", "save-plan", "same plan every time", h.write_plan_source()});
        adds.push_back({"activity", "add", "--type", "change", "entry " + std::to_string(i),
                        "--project", "p0"});
        same.push_back({"project", "new", "contested"});
    }
    for (const auto& r : h.run_all(news)) EXPECT_EQ(r.exit_code, 0) << r.err;
    auto projects = list_projects(h);
    EXPECT_EQ(projects.size(), static_cast<std::size_t>(kProcs)) << read(h.index());

    std::set<std::string> paths;
    for (const auto& r : h.run_all(plans)) {
        EXPECT_EQ(r.exit_code, 0) << r.err;
        paths.insert(trimmed(r.out));
    }
    EXPECT_EQ(paths.size(), static_cast<std::size_t>(kProcs));

    std::set<std::string> ids;
    for (const auto& r : h.run_all(adds)) {
        EXPECT_EQ(r.exit_code, 0) << r.err;
        ids.insert(r.out.substr(0, r.out.find(' ')));
    }
    EXPECT_EQ(ids.size(), static_cast<std::size_t>(kProcs));
    write(h.github() / "p0" / "CLAUDE.md", "head\n<claude-mem-context>\n</claude-mem-context>\n");
    auto render = h.run({"activity", "render", "--json"}, "", h.github() / "p0");
    ASSERT_EQ(render.exit_code, 0) << render.err;
    EXPECT_EQ(render.json()["entries"], kProcs);

    int winners = 0;
    for (const auto& r : h.run_all(same)) {
        if (r.exit_code == 0) {
            ++winners;
        } else {
            EXPECT_EQ(r.exit_code, 2);
            EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
        }
    }
    EXPECT_EQ(winners, 1);
    EXPECT_EQ(list_projects(h).size(), static_cast<std::size_t>(kProcs + 1));
}

TEST(WorkspaceE2e, ActivityAddInfersTheProjectAndRenderKeepsTheOutsideByteForByte) {
    Home h;
    ASSERT_EQ(h.run({"project", "new", "proj"}).exit_code, 0);
    auto dir = h.github() / "proj";
    fs::create_directories(dir / "src");
    auto add = h.run({"activity", "add", "--type", "discovery", "Found the | leak", "--json"}, "",
                     dir / "src");
    ASSERT_EQ(add.exit_code, 0) << add.err;
    auto entry = add.json();
    EXPECT_EQ(entry["project"], "proj");
    EXPECT_EQ(entry["read_tokens"], 4);  // 16 characters / 4
    auto add2 = h.run({"activity", "add", "--type", "bugfix", "Fixed it", "--read-tokens", "1200"},
                      "", dir);
    ASSERT_EQ(add2.exit_code, 0) << add2.err;
    auto other = h.run({"activity", "add", "--type", "feature", "Outside any project"});
    ASSERT_EQ(other.exit_code, 0) << other.err;

    const std::string head = "# proj\r\n\nHand-written \xE2\x9C\x93 text.  \n<!-- keep -->\n";
    const std::string tail = "\n## Notes after the block\n\ttabs and no final newline";
    write(dir / "CLAUDE.md", head + "<claude-mem-context>\nstale\n</claude-mem-context>" + tail);
    auto r = h.run({"activity", "render"}, "", dir);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string text = read(dir / "CLAUDE.md");
    ASSERT_GE(text.size(), head.size() + tail.size());
    EXPECT_EQ(text.substr(0, head.size()), head);
    EXPECT_EQ(text.substr(text.size() - tail.size()), tail);
    EXPECT_NE(text.find("# Recent Activity"), std::string::npos);
    EXPECT_NE(text.find("Found the \\| leak | ~4 |"), std::string::npos) << text;
    EXPECT_NE(text.find("Fixed it | ~1200 |"), std::string::npos) << text;
    EXPECT_EQ(text.find("Outside any project"), std::string::npos) << "only this project's";
    EXPECT_EQ(text.find("stale"), std::string::npos);
    EXPECT_NE(text.find("\n### 20"), std::string::npos) << "a day heading";

    // Unbalanced tags: exit 2, file untouched.
    for (const std::string& bad :
         {head + "<claude-mem-context>\nno close\n" + tail,
          head + "</claude-mem-context>\n<claude-mem-context>\n" + tail,
          head + "<claude-mem-context></claude-mem-context><claude-mem-context>" +
              "</claude-mem-context>"}) {
        write(dir / "CLAUDE.md", bad);
        auto u = h.run({"activity", "render", (dir / "CLAUDE.md").string(), "--json"});
        EXPECT_EQ(u.exit_code, 2) << u.out;
        EXPECT_NE(u.json()["error"]["message"].get<std::string>().find("unbalanced"),
                  std::string::npos);
        EXPECT_EQ(read(dir / "CLAUDE.md"), bad);
    }

    // No block: appended at the end, the rest kept.
    auto plain = h.home() / "notes" / "CLAUDE.md";
    write(plain, "just text");
    auto all = h.run({"activity", "render", plain.string(), "--json"});
    ASSERT_EQ(all.exit_code, 0) << all.err;
    EXPECT_EQ(all.json()["entries"], 3) << "outside the github root: every project";
    std::string appended = read(plain);
    EXPECT_EQ(appended.rfind("just text\n\n<claude-mem-context>\n", 0), 0u) << appended;
    EXPECT_EQ(appended.substr(appended.size() - 22), "</claude-mem-context>\n");

    auto bad_type = h.run({"activity", "add", "--type", "chore", "x"});
    EXPECT_EQ(bad_type.exit_code, 2);
    EXPECT_NE(bad_type.err.find("discovery|decision"), std::string::npos) << bad_type.err;
    auto missing = h.run({"activity", "render", "nope.md"});
    EXPECT_EQ(missing.exit_code, 2);
}

}  // namespace
}  // namespace sparkctl::workspace
