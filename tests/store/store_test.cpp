#include <gtest/gtest.h>

#include <filesystem>
#include <thread>
#include <vector>

#include "base/file.h"
#include "store/activity.h"
#include "store/database.h"
#include "store/detail/schema.h"
#include "support/temp_dir.h"

namespace sparkctl::store {
namespace {

namespace fs = std::filesystem;

class StoreTest : public test::TempDirTest {};

ActivityRecord record(std::int64_t at, std::string title, std::optional<std::string> project = {}) {
    ActivityRecord r;
    r.created_at_s = at;
    r.type = "feature";
    r.title = std::move(title);
    r.project = std::move(project);
    r.read_tokens = 7;
    return r;
}

TEST(Schema, MigrationsAreNumberedFromOneWithoutGaps) {
    auto list = detail::migrations();
    ASSERT_FALSE(list.empty());
    for (std::size_t i = 0; i < list.size(); ++i) {
        EXPECT_EQ(list[i].version, static_cast<int>(i) + 1);
        EXPECT_NE(std::string(list[i].sql), "");
    }
    EXPECT_EQ(latest_schema_version(), static_cast<int>(list.size()));
}

TEST_F(StoreTest, OpenCreatesDirectoryMigratesAndUsesWal) {
    auto path = dir_ / "a" / "b" / "state.db";
    auto db = Database::open(path);
    ASSERT_TRUE(db.ok()) << db.error().message;
    EXPECT_TRUE(fs::exists(path));
    auto v = db->schema_version();
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, latest_schema_version());
    auto st = db->prepare("PRAGMA journal_mode");
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE(*st->step());
    EXPECT_EQ(st->column_text(0), "wal");
}

TEST_F(StoreTest, ReopenKeepsDataAndDoesNotRerunMigrations) {
    auto path = dir_ / "state.db";
    {
        auto db = Database::open(path);
        ASSERT_TRUE(db.ok());
        ASSERT_TRUE(insert_activity(*db, record(100, "kept")).ok());
    }
    auto db = Database::open(path);
    ASSERT_TRUE(db.ok()) << db.error().message;
    auto rows = recent_activity(*db, {});
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ((*rows)[0].title, "kept");
}

TEST_F(StoreTest, MigrateAppliesPendingMigrationsOnlyWhenAsked) {
    auto path = dir_ / "state.db";
    OpenOptions no_migrate;
    no_migrate.migrate = false;
    {
        auto db = Database::open(path, no_migrate);
        ASSERT_TRUE(db.ok());
        EXPECT_EQ(*db->schema_version(), 0);
        ASSERT_TRUE(db->migrate().ok());
        EXPECT_EQ(*db->schema_version(), latest_schema_version());
        ASSERT_TRUE(db->migrate().ok());  // idempotent
    }
}

TEST_F(StoreTest, NewerSchemaIsRefusedWithAClearError) {
    auto path = dir_ / "state.db";
    {
        auto db = Database::open(path);
        ASSERT_TRUE(db.ok());
        ASSERT_TRUE(db->exec("PRAGMA user_version = 999").ok());
    }
    auto db = Database::open(path);
    ASSERT_FALSE(db.ok());
    EXPECT_EQ(db.error().code, base::Errc::bad_input);
    EXPECT_NE(db.error().message.find("999"), std::string::npos) << db.error().message;
    EXPECT_NE(db.error().message.find("state.db"), std::string::npos) << db.error().message;
}

TEST_F(StoreTest, FileThatIsNotADatabaseIsBadInput) {
    fs::create_directories(dir_);
    auto path = dir_ / "state.db";
    ASSERT_TRUE(base::write_file_atomic(path, std::string(4096, 'x')).ok());
    auto db = Database::open(path);
    ASSERT_FALSE(db.ok());
    EXPECT_EQ(db.error().code, base::Errc::bad_input) << db.error().message;
    EXPECT_NE(db.error().message.find("state.db"), std::string::npos);
}

TEST(Database, TransactionRollsBackWhenTheBodyFails) {
    auto db = Database::open_in_memory();
    ASSERT_TRUE(db.ok());
    auto r = db->transaction([&]() -> base::Result<void> {
        SPARKCTL_TRY(
            db->exec("INSERT INTO activity (created_at_s, type, title, read_tokens) "
                     "VALUES (1, 'change', 'gone', 1)"));
        return base::make_error(base::Errc::bad_input, "stop");
    });
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "stop");
    auto rows = recent_activity(*db, {});
    ASSERT_TRUE(rows.ok());
    EXPECT_TRUE(rows->empty());
    // The connection is usable afterwards (no transaction left open).
    EXPECT_TRUE(db->transaction([] { return base::Result<void>{}; }).ok());
}

TEST(Database, StatementBindsStepsAndResets) {
    auto db = Database::open_in_memory();
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->exec("CREATE TABLE t (a INTEGER, b REAL, c TEXT)").ok());
    auto ins = db->prepare("INSERT INTO t VALUES (?1, ?2, ?3)");
    ASSERT_TRUE(ins.ok());
    ASSERT_TRUE(ins->bind(1, std::int64_t{1} << 40).ok());
    ASSERT_TRUE(ins->bind(2, 2.5).ok());
    ASSERT_TRUE(ins->bind(3, std::string_view("a\0b", 3)).ok());
    ASSERT_TRUE(ins->run().ok());
    ASSERT_TRUE(ins->reset().ok());
    ASSERT_TRUE(ins->bind(3, std::nullopt).ok());
    ASSERT_TRUE(ins->run().ok());
    auto sel = db->prepare("SELECT a, b, c FROM t ORDER BY rowid");
    ASSERT_TRUE(sel.ok());
    ASSERT_TRUE(*sel->step());
    EXPECT_EQ(sel->column_int64(0), std::int64_t{1} << 40);
    EXPECT_DOUBLE_EQ(sel->column_double(1), 2.5);
    EXPECT_EQ(sel->column_text(2), std::string("a\0b", 3));
    ASSERT_TRUE(*sel->step());
    EXPECT_TRUE(sel->column_is_null(2));
    EXPECT_EQ(sel->column_optional_text(2), std::nullopt);
    EXPECT_FALSE(*sel->step());
}

TEST(Database, BadSqlIsAnErrorNotACrash) {
    auto db = Database::open_in_memory();
    ASSERT_TRUE(db.ok());
    auto st = db->prepare("SELEKT nonsense");
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("SELEKT"), std::string::npos) << st.error().message;
    EXPECT_FALSE(db->exec("INSERT INTO nowhere VALUES (1)").ok());
}

TEST(Activity, RecentIsNewestFirstFilteredAndLimited) {
    auto db = Database::open_in_memory();
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(insert_activity(*db, record(100, "old", "a")).ok());
    ASSERT_TRUE(insert_activity(*db, record(200, "mid", "b")).ok());
    auto id = insert_activity(*db, record(300, "new", "a"));
    ASSERT_TRUE(id.ok());
    EXPECT_EQ(*id, 3);
    ASSERT_TRUE(insert_activity(*db, record(300, "same time, later id")).ok());

    auto all = recent_activity(*db, {});
    ASSERT_TRUE(all.ok());
    ASSERT_EQ(all->size(), 4u);
    EXPECT_EQ((*all)[0].title, "same time, later id");
    EXPECT_EQ((*all)[0].project, std::nullopt);
    EXPECT_EQ((*all)[1].title, "new");
    EXPECT_EQ((*all)[3].title, "old");
    EXPECT_EQ((*all)[3].read_tokens, 7);
    EXPECT_EQ((*all)[3].type, "feature");

    ActivityQuery q;
    q.since_s = 200;
    q.limit = 2;
    auto some = recent_activity(*db, q);
    ASSERT_TRUE(some.ok());
    ASSERT_EQ(some->size(), 2u);
    EXPECT_EQ((*some)[1].title, "new");

    ActivityQuery by_project;
    by_project.project = "a";
    auto a = recent_activity(*db, by_project);
    ASSERT_TRUE(a.ok());
    ASSERT_EQ(a->size(), 2u);
    EXPECT_EQ((*a)[0].title, "new");
    EXPECT_EQ((*a)[1].title, "old");
}

TEST_F(StoreTest, ConcurrentConnectionsLoseNoWrites) {
    auto path = dir_ / "state.db";
    constexpr int kThreads = 6;
    constexpr int kEach = 40;
    std::vector<std::thread> threads;
    std::vector<std::string> errors(kThreads);
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            // Each thread opens its own connection, as separate processes would; the first
            // opens race on creating the file, switching to WAL and migrating.
            auto db = Database::open(path);
            if (!db) {
                errors[t] = db.error().message;
                return;
            }
            for (int i = 0; i < kEach; ++i) {
                auto r = insert_activity(*db, record(i, "t" + std::to_string(t)));
                if (!r) {
                    errors[t] = r.error().message;
                    return;
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    for (const auto& e : errors) EXPECT_EQ(e, "");
    auto db = Database::open(path);
    ASSERT_TRUE(db.ok());
    ActivityQuery q;
    q.limit = 100000;
    auto rows = recent_activity(*db, q);
    ASSERT_TRUE(rows.ok());
    EXPECT_EQ(rows->size(), static_cast<std::size_t>(kThreads * kEach));
}

}  // namespace
}  // namespace sparkctl::store
