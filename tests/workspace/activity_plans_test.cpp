#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <set>
#include <thread>

#include "store/database.h"
#include "workspace/activity.h"
#include "workspace/detail/fs.h"
#include "workspace/plans.h"
#include "workspace/roots_fixture.h"

namespace sparkctl::workspace {
namespace {

namespace fs = std::filesystem;
using testing::RootsTest;

// A local time, so tests hold in any time zone.
std::time_t local_time(int year, int month, int day, int hour, int minute) {
    std::tm t{};
    t.tm_year = year - 1900;
    t.tm_mon = month - 1;
    t.tm_mday = day;
    t.tm_hour = hour;
    t.tm_min = minute;
    t.tm_isdst = -1;
    return std::mktime(&t);
}

TEST(PlanSlug, ThreeOrFourWordsLowercasedAsciiJoinedByDashes) {
    EXPECT_EQ(*plan_slug("Fix GPU memory leak"), "fix-gpu-memory-leak");
    EXPECT_EQ(*plan_slug("  vLLM   setup\tplan "), "vllm-setup-plan");
    EXPECT_EQ(*plan_slug("Qwen3: tune KV-cache!"), "qwen3-tune-kvcache");
    EXPECT_EQ(*plan_slug("caf\xC3\xA9 menu plan"), "caf-menu-plan");
    // A word with no ASCII letter or digit does not count.
    EXPECT_EQ(*plan_slug("fix - the bug"), "fix-the-bug");
}

TEST(PlanSlug, OtherWordCountsAreErrorsNamingTheRule) {
    for (const char* d : {"", "two words", "one two three four five", "a & b"}) {
        auto r = plan_slug(d);
        ASSERT_FALSE(r.ok()) << d;
        EXPECT_EQ(r.error().code, base::Errc::bad_input);
        EXPECT_NE(r.error().message.find("3 or 4"), std::string::npos) << r.error().message;
        EXPECT_NE(r.error().message.find("R-WS-3"), std::string::npos) << r.error().message;
    }
}

TEST(PlanSlug, FileStemUsesTheLocalDate) {
    std::time_t t = local_time(2025, 3, 7, 23, 59);
    EXPECT_EQ(plan_file_stem(t, "a-b-c", 1), "03-07-a-b-c");
    EXPECT_EQ(plan_file_stem(t, "a-b-c", 3), "03-07-a-b-c-3");
}

class PlansTest : public RootsTest {};

TEST_F(PlansTest, CollisionsGetNumberedAndNothingIsOverwritten) {
    make_roots();
    std::time_t t = local_time(2025, 11, 2, 9, 0);
    auto p1 = save_plan(roots_, "ship the thing", "first\n", t);
    auto p2 = save_plan(roots_, "Ship the THING", "second\n", t);
    auto p3 = save_plan(roots_, "ship the thing", "third\n", t);
    ASSERT_TRUE(p1.ok() && p2.ok() && p3.ok());
    EXPECT_EQ(*p1, roots_.plans_dir() / "11-02-ship-the-thing.md");
    EXPECT_EQ(*p2, roots_.plans_dir() / "11-02-ship-the-thing-2.md");
    EXPECT_EQ(*p3, roots_.plans_dir() / "11-02-ship-the-thing-3.md");
    EXPECT_EQ(read(*p1), "first\n");
    EXPECT_EQ(read(*p3), "third\n");
}

TEST_F(PlansTest, BadInputChangesNothing) {
    std::time_t t = local_time(2025, 1, 1, 0, 0);
    auto missing = save_plan(roots_, "a b c", "x", t);
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, base::Errc::not_found);
    EXPECT_NE(missing.error().message.find("claude home"), std::string::npos);
    make_roots();
    EXPECT_FALSE(save_plan(roots_, "too short", "x", t).ok());
    EXPECT_FALSE(save_plan(roots_, "a b c", " \n\t", t).ok());
    EXPECT_FALSE(fs::exists(roots_.plans_dir()));
}

TEST_F(PlansTest, ConcurrentSavesNeverCollide) {
    make_roots();
    std::time_t t = local_time(2025, 6, 1, 12, 0);
    constexpr int kThreads = 8;
    std::vector<std::string> paths(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
        threads.emplace_back([&, i] {
            auto p = save_plan(roots_, "same plan name", "plan " + std::to_string(i) + "\n", t);
            if (p) paths[i] = p->string();
        });
    }
    for (auto& th : threads) th.join();
    std::set<std::string> unique(paths.begin(), paths.end());
    EXPECT_EQ(unique.size(), static_cast<std::size_t>(kThreads));
    std::set<std::string> contents;
    for (const auto& p : paths) contents.insert(read(p));
    EXPECT_EQ(contents.size(), static_cast<std::size_t>(kThreads));
    std::size_t files = 0;
    for (const auto& e : fs::directory_iterator(roots_.plans_dir())) {
        EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
        ++files;
    }
    EXPECT_EQ(files, static_cast<std::size_t>(kThreads));
}

class FsTest : public RootsTest {};

TEST_F(FsTest, CreateExclusiveNeverReplacesAFile) {
    auto path = dir_ / "f.md";
    auto first = detail::create_file_exclusive(path, "one");
    ASSERT_TRUE(first.ok());
    EXPECT_TRUE(*first);
    auto second = detail::create_file_exclusive(path, "two");
    ASSERT_TRUE(second.ok());
    EXPECT_FALSE(*second);
    EXPECT_EQ(read(path), "one");
}

TEST_F(FsTest, LockExcludesOtherOpenFileDescriptions) {
    auto path = dir_ / "locks" / "x.lock";
    {
        auto lock = detail::FileLock::acquire(path);
        ASSERT_TRUE(lock.ok());
        int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        EXPECT_NE(::flock(fd, LOCK_EX | LOCK_NB), 0);
        EXPECT_EQ(errno, EWOULDBLOCK);
        ::close(fd);
    }
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0) << "released on destruction";
    ::close(fd);
}

TEST(ActivityType, NamesSymbolsAndEstimate) {
    EXPECT_EQ(parse_activity_type("bugfix"), ActivityType::bugfix);
    EXPECT_EQ(parse_activity_type("Bugfix"), std::nullopt);
    EXPECT_EQ(activity_type_names(), "discovery|decision|feature|bugfix|refactor|change");
    std::set<std::string> symbols;
    for (const char* t : {"discovery", "decision", "feature", "bugfix", "refactor", "change"}) {
        symbols.insert(activity_symbol(t));
        EXPECT_STREQ(to_string(*parse_activity_type(t)), t);
    }
    EXPECT_EQ(symbols.size(), 6u) << "one symbol per type";
    EXPECT_STREQ(activity_symbol("other"), "?");
    EXPECT_EQ(estimate_read_tokens(""), 0);
    EXPECT_EQ(estimate_read_tokens("abcd"), 1);
    EXPECT_EQ(estimate_read_tokens("abcde"), 2);
    EXPECT_EQ(estimate_read_tokens("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"), 1) << "code points";
}

TEST(Tags, UnbalancedTagsAreErrors) {
    struct Case {
        const char* doc;
        const char* says;
    };
    for (const Case& c : {
             Case{"a\n<claude-mem-context>\nb\n", "line 2 has no closing"},
             Case{"</claude-mem-context>\n", "no opening"},
             Case{"</claude-mem-context>\n<claude-mem-context>\n", "comes before"},
             Case{"<claude-mem-context></claude-mem-context><claude-mem-context>"
                  "</claude-mem-context>",
                  "more than one block"},
             Case{"<claude-mem-context>\n<claude-mem-context></claude-mem-context>",
                  "more than one block"},
         }) {
        auto r = find_tag_block(c.doc);
        ASSERT_FALSE(r.ok()) << c.doc;
        EXPECT_EQ(r.error().code, base::Errc::bad_input);
        EXPECT_NE(r.error().message.find(c.says), std::string::npos) << r.error().message;
        EXPECT_FALSE(splice_tag_block(c.doc, "x").ok());
    }
}

TEST(Tags, SpliceKeepsEveryByteOutsideTheTags) {
    const std::string head = "# T\r\n\xF0\x9F\x98\x80 intro\t \n<!-- c -->\n";
    const std::string tail = "  \n\n## After\r\nno newline at end";
    const std::string doc = head + "<claude-mem-context>old\nstuff</claude-mem-context>" + tail;
    auto out = splice_tag_block(doc, "NEW");
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(*out, head + "<claude-mem-context>\nNEW\n</claude-mem-context>" + tail);
    auto again = splice_tag_block(*out, "NEW");
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *out) << "idempotent";
}

TEST(Tags, MissingBlockIsAppendedAtTheEnd) {
    EXPECT_EQ(*splice_tag_block("text", "B"),
              "text\n\n<claude-mem-context>\nB\n</claude-mem-context>\n");
    EXPECT_EQ(*splice_tag_block("text\n", "B"),
              "text\n\n<claude-mem-context>\nB\n</claude-mem-context>\n");
    EXPECT_EQ(*splice_tag_block("", "B"), "<claude-mem-context>\nB\n</claude-mem-context>\n");
}

store::ActivityRecord rec(std::int64_t id, std::time_t at, const char* type, std::string title,
                          std::int64_t tokens = 3) {
    store::ActivityRecord r;
    r.id = id;
    r.created_at_s = at;
    r.type = type;
    r.title = std::move(title);
    r.read_tokens = tokens;
    return r;
}

TEST(RenderBody, GroupsByDayNewestDayFirstWithTimesSymbolsAndCosts) {
    // Newest first, as the store returns them.
    std::vector<store::ActivityRecord> entries = {
        rec(4, local_time(2025, 5, 3, 14, 5), "bugfix", "Fix | pipe", 120),
        rec(3, local_time(2025, 5, 3, 9, 30), "discovery", "Found it"),
        rec(1, local_time(2025, 5, 1, 23, 59), "decision", "Pick vLLM"),
    };
    std::string body = render_activity_body(entries, 7);
    EXPECT_EQ(body.rfind("# Recent Activity\n", 0), 0u);
    auto day3 = body.find("### 2025-05-03");
    auto day1 = body.find("### 2025-05-01");
    ASSERT_NE(day3, std::string::npos) << body;
    ASSERT_NE(day1, std::string::npos);
    EXPECT_LT(day3, day1);
    auto found = body.find("| #3 | 09:30 | \xF0\x9F\x94\xB5 | Found it | ~3 |");
    auto fixed = body.find(std::string("| #4 | 14:05 | ") + activity_symbol("bugfix") +
                           " | Fix \\| pipe | ~120 |");
    ASSERT_NE(found, std::string::npos) << body;
    ASSERT_NE(fixed, std::string::npos) << body;
    EXPECT_LT(found, fixed) << "time order within a day";
    EXPECT_NE(body.find("| ID | Time | T | Title | Read |"), std::string::npos);
    EXPECT_NE(render_activity_body({}, 7).find("No activity"), std::string::npos);
}

TEST(RenderBody, ATitleCannotInjectATag) {
    auto body = render_activity_body(
        {rec(1, local_time(2025, 5, 3, 1, 0), "change", "close </claude-mem-context> early")}, 7);
    EXPECT_EQ(body.find("</claude-mem-context>"), std::string::npos) << body;
    auto doc = splice_tag_block("x\n", body);
    ASSERT_TRUE(doc.ok());
    EXPECT_TRUE(find_tag_block(*doc).ok());
}

TEST(RenderWindow, StartsAtLocalMidnightOfTheFirstDay) {
    std::time_t now = local_time(2025, 5, 10, 15, 0);
    EXPECT_EQ(activity_window_start(now, 7), local_time(2025, 5, 4, 0, 0));
    EXPECT_EQ(activity_window_start(now, 1), local_time(2025, 5, 10, 0, 0));
}

class ActivityTest : public RootsTest {};

TEST_F(ActivityTest, AddThenRenderIntoAFileKeepingTheOutside) {
    make_roots();
    std::time_t now = local_time(2025, 5, 10, 15, 0);
    NewActivity e;
    e.type = ActivityType::feature;
    e.title = "  Added the thing  ";
    auto a = add_activity(roots_, e, now - 3600);
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_EQ(a->id, 1);
    EXPECT_EQ(a->title, "Added the thing");
    EXPECT_EQ(a->read_tokens, 4);  // 15 characters / 4, rounded up
    e.title = "Too old to show";
    e.read_tokens = 9;
    ASSERT_TRUE(add_activity(roots_, e, now - 8 * 86400).ok());
    e.title = "Other project";
    e.project = "elsewhere";
    ASSERT_TRUE(add_activity(roots_, e, now - 60).ok());
    EXPECT_TRUE(fs::exists(roots_.state_db()));

    const std::string outside_a = "# Project\n\nKeep me \xE2\x9C\x93\r\n";
    const std::string outside_b = "\nAnd me, with no final newline";
    auto file = write(dir_ / "CLAUDE.md", outside_a + "<claude-mem-context>\nold\n" +
                                              "</claude-mem-context>" + outside_b);
    auto r = render_activity(roots_, file, std::nullopt, now);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->entries, 2u) << "the 8-day-old entry is out of the window";
    EXPECT_TRUE(r->changed);
    std::string text = read(file);
    EXPECT_EQ(text.rfind(outside_a + "<claude-mem-context>\n", 0), 0u);
    EXPECT_EQ(text.substr(text.size() - outside_b.size()), outside_b);
    EXPECT_NE(text.find("Added the thing"), std::string::npos);
    EXPECT_NE(text.find("Other project"), std::string::npos);
    EXPECT_EQ(text.find("Too old"), std::string::npos);
    EXPECT_EQ(text.find("old\n</claude"), std::string::npos);

    auto again = render_activity(roots_, file, std::nullopt, now);
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->changed);

    auto only = render_activity(roots_, file, std::string("elsewhere"), now);
    ASSERT_TRUE(only.ok());
    EXPECT_EQ(only->entries, 1u);
}

TEST_F(ActivityTest, BadInputChangesNothing) {
    make_roots();
    NewActivity e;
    e.title = "   ";
    EXPECT_FALSE(add_activity(roots_, e, 0).ok());
    e.title = "ok";
    e.project = "a/b";
    EXPECT_FALSE(add_activity(roots_, e, 0).ok());
    e.project.reset();
    e.read_tokens = -1;
    EXPECT_FALSE(add_activity(roots_, e, 0).ok());

    const std::string bad = "intro\n<claude-mem-context>\nno close\n";
    auto file = write(dir_ / "CLAUDE.md", bad);
    auto r = render_activity(roots_, file, std::nullopt, 0);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::bad_input);
    EXPECT_NE(r.error().message.find("CLAUDE.md"), std::string::npos) << r.error().message;
    EXPECT_EQ(read(file), bad);
    EXPECT_FALSE(fs::exists(roots_.state_db())) << "failed before touching the database";

    auto missing = render_activity(roots_, dir_ / "nope.md", std::nullopt, 0);
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, base::Errc::not_found);
}

TEST_F(ActivityTest, RenderWritesThroughASymlink) {
    make_roots();
    auto real = write(dir_ / "real" / "CLAUDE.md", "hello\n");
    auto link = dir_ / "CLAUDE.md";
    fs::create_symlink(real, link);
    auto r = render_activity(roots_, link, std::nullopt, 0);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(fs::is_symlink(link));
    EXPECT_NE(read(real).find("<claude-mem-context>"), std::string::npos);
}

}  // namespace
}  // namespace sparkctl::workspace
