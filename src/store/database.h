// The SQLite state database (<data_dir>/state.db): one connection per Database object, WAL mode,
// a busy timeout so concurrent processes wait instead of failing, and schema migrations tracked
// in PRAGMA user_version (store/detail/schema.h). No SQLite type appears in this header.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace sparkctl::store {

class Statement;

// The schema version this build creates and understands (the number of migrations).
int latest_schema_version();

struct OpenOptions {
    // How long a statement waits for another process's write lock before failing with io.
    std::chrono::milliseconds busy_timeout{10000};
    // Apply pending migrations on open (the normal case); tests may turn it off.
    bool migrate = true;
};

class Database {
  public:
    // Opens (creating if needed) the database file, creating its parent directory. Sets WAL and
    // the busy timeout, then applies pending migrations in one transaction. Errors: io when the
    // file cannot be opened or written; bad_input when the file is not a SQLite database or its
    // schema is newer than this sparkctl knows (user_version > latest_schema_version()).
    static base::Result<Database> open(const std::filesystem::path& path,
                                       const OpenOptions& options = {});
    // A private in-memory database (tests), migrated like a file.
    static base::Result<Database> open_in_memory(const OpenOptions& options = {});

    Database(Database&& other) noexcept;
    Database& operator=(Database&& other) noexcept;
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;
    ~Database();

    // Runs one or more statements that return no rows.
    base::Result<void> exec(std::string_view sql);
    // Compiles one statement. The Statement must not outlive this Database.
    base::Result<Statement> prepare(std::string_view sql);

    // Runs `body` inside BEGIN IMMEDIATE ... COMMIT (the write lock is taken up front, so two
    // processes never deadlock on upgrade). An error from `body` or from COMMIT rolls back and is
    // returned. Not reentrant.
    base::Result<void> transaction(const std::function<base::Result<void>()>& body);

    std::int64_t last_insert_rowid() const;
    // PRAGMA user_version: the number of migrations applied.
    base::Result<int> schema_version();
    // Applies the migrations after the current user_version (done by open unless disabled).
    base::Result<void> migrate();

    const std::string& path() const { return path_; }

    // Thread model: a Database is a single connection; use it from one thread at a time.
    struct Impl;

  private:
    Database(std::unique_ptr<Impl> impl, std::string path);
    // WAL, busy timeout and migrations for a freshly opened connection.
    static base::Result<Database> finish_open(std::unique_ptr<Impl> impl, std::string path,
                                              const OpenOptions& options);
    std::unique_ptr<Impl> impl_;
    std::string path_;
};

// A prepared statement: bind parameters (1-based, as in SQL "?1"), then step through rows.
// Column indexes are 0-based. Moving is allowed; copying is not.
class Statement {
  public:
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&& other) noexcept;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement();

    base::Result<void> bind(int index, std::int64_t value);
    base::Result<void> bind(int index, double value);
    base::Result<void> bind(int index, std::string_view text);
    base::Result<void> bind(int index, std::nullopt_t);
    base::Result<void> bind(int index, const std::optional<std::string>& text);

    // Advances: true when a row is available, false when done. io on a database error.
    base::Result<bool> step();
    // Runs a statement that returns no rows to completion.
    base::Result<void> run();
    // Rewinds so the statement can be stepped again; bindings are kept.
    base::Result<void> reset();

    bool column_is_null(int column) const;
    std::int64_t column_int64(int column) const;
    double column_double(int column) const;
    std::string column_text(int column) const;
    std::optional<std::string> column_optional_text(int column) const;

    struct Impl;

  private:
    friend class Database;
    explicit Statement(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace sparkctl::store
