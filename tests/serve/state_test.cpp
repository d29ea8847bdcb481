// The serve state in a real SQLite store (migration 2): rows survive a reopen, the process
// columns follow the supervisor, the exit history is kept in order.
#include <gtest/gtest.h>
#include <unistd.h>

#include "serve/state.h"
#include "store/database.h"
#include "support/temp_dir.h"

namespace sparkctl::serve {
namespace {

class StateTest : public test::TempDirTest {};

DeploymentRow row(const std::string& id) {
    DeploymentRow r;
    r.id = id;
    r.origin = "up";
    r.request = R"({"model":"qwen3-8b"})";
    r.model = "qwen3-8b";
    r.engine = "llama.cpp";
    r.quant = "Q4_K_M";
    r.pinned = true;
    r.state = "loading";
    r.port = 40001;
    r.api_key = "k";
    r.log_path = "/tmp/x.log";
    r.planned_bytes = 7'000'000'000;
    r.weights_bytes = 5'000'000'000;
    return r;
}

TEST_F(StateTest, RowsSurviveReopenAndFollowTheProcess) {
    auto path = dir_ / "state.db";
    {
        auto db = store::Database::open(path);
        ASSERT_TRUE(db) << db.error().message;
        StateStore s(std::move(*db));
        ASSERT_TRUE(s.put(row("a")));
        ASSERT_TRUE(s.put(row("b")));
        auto me = read_proc_identity(::getpid());
        ASSERT_TRUE(me);
        ASSERT_TRUE(s.set_process("a", "ready", *me, 2, "exit 1"));
        ASSERT_TRUE(s.set_measured("a", 7'500'000'000));
        ASSERT_TRUE(s.record_exit("a", "exit 1"));
        ASSERT_TRUE(s.record_exit("a", "signal 9"));
        ASSERT_TRUE(s.remove("b"));
    }
    auto db = store::Database::open(path);
    ASSERT_TRUE(db);
    StateStore s(std::move(*db));
    auto all = s.all();
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 1u);
    const auto& a = all->front();
    EXPECT_EQ(a.id, "a");
    EXPECT_EQ(a.state, "ready");
    EXPECT_EQ(a.restarts, 2);
    EXPECT_EQ(a.last_exit, "exit 1");
    EXPECT_EQ(a.planned_bytes, 7'000'000'000u);
    ASSERT_TRUE(a.measured_bytes);
    EXPECT_EQ(*a.measured_bytes, 7'500'000'000u);
    EXPECT_TRUE(a.pinned);
    EXPECT_EQ(a.request, R"({"model":"qwen3-8b"})");
    EXPECT_TRUE(same_process(a.proc));  // what a restarted daemon checks before adopting
    auto exits = s.exits("a");
    ASSERT_TRUE(exits);
    EXPECT_EQ(*exits, (std::vector<std::string>{"exit 1", "signal 9"}));
    auto missing = s.get("b");
    ASSERT_TRUE(missing);
    EXPECT_FALSE(*missing);
}

TEST_F(StateTest, OriginIsConstrained) {
    auto db = store::Database::open_in_memory();
    ASSERT_TRUE(db);
    StateStore s(std::move(*db));
    auto r = row("c");
    r.origin = "elsewhere";
    EXPECT_FALSE(s.put(r));
}

}  // namespace
}  // namespace sparkctl::serve
