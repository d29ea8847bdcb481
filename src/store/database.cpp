#include "store/database.h"

#include <sqlite3.h>

#include <string>
#include <thread>
#include <utility>

#include "store/detail/schema.h"

namespace sparkctl::store {

using base::Errc;
using base::Error;
using base::make_error;
using base::Result;

struct Database::Impl {
    sqlite3* db = nullptr;
    std::string name;  // the file, for messages
    ~Impl() {
        if (db != nullptr) sqlite3_close_v2(db);
    }
};

struct Statement::Impl {
    sqlite3_stmt* stmt = nullptr;
    sqlite3* db = nullptr;
    std::string name;
    ~Impl() {
        if (stmt != nullptr) sqlite3_finalize(stmt);
    }
};

namespace {

Error sqlite_error(sqlite3* db, int rc, const std::string& name, std::string_view what) {
    int primary = rc & 0xff;
    Errc code = Errc::io;
    if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) code = Errc::bad_input;
    if (primary == SQLITE_MISUSE || primary == SQLITE_RANGE) code = Errc::internal;
    std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
        detail += " (another process holds the database; retry)";
    }
    return make_error(code, name + ": " + std::string(what) + ": " + detail);
}

Result<void> exec_on(Database::Impl& impl, std::string_view sql) {
    std::string text(sql);
    char* err = nullptr;
    int rc = sqlite3_exec(impl.db, text.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        int primary = rc & 0xff;
        Errc code =
            (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) ? Errc::bad_input : Errc::io;
        return make_error(code, impl.name + ": " + msg);
    }
    return {};
}

}  // namespace

Database::Database(std::unique_ptr<Impl> impl, std::string path)
    : impl_(std::move(impl)), path_(std::move(path)) {}
Database::Database(Database&& other) noexcept = default;
Database& Database::operator=(Database&& other) noexcept = default;
Database::~Database() = default;

Result<Database> Database::open(const std::filesystem::path& path, const OpenOptions& options) {
    std::error_code ec;
    if (path.has_parent_path()) {
        std::filesystem::create_directories(path.parent_path(), ec);
        if (ec) {
            return make_error(Errc::io, path.parent_path().string() +
                                            ": cannot create directory: " + ec.message());
        }
    }
    auto impl = std::make_unique<Impl>();
    impl->name = path.string();
    int rc =
        sqlite3_open_v2(path.c_str(), &impl->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) return sqlite_error(impl->db, rc, impl->name, "cannot open database");
    return finish_open(std::move(impl), path.string(), options);
}

Result<Database> Database::open_in_memory(const OpenOptions& options) {
    auto impl = std::make_unique<Impl>();
    impl->name = ":memory:";
    int rc =
        sqlite3_open_v2(":memory:", &impl->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) return sqlite_error(impl->db, rc, impl->name, "cannot open database");
    return finish_open(std::move(impl), ":memory:", options);
}

Result<Database> Database::finish_open(std::unique_ptr<Impl> impl, std::string path,
                                       const OpenOptions& options) {
    sqlite3_extended_result_codes(impl->db, 1);
    sqlite3_busy_timeout(impl->db, static_cast<int>(options.busy_timeout.count()));
    // Switching to WAL needs a brief exclusive lock; the first opens of a fresh file can race on
    // it and get SQLITE_BUSY without the busy handler, so retry within the busy timeout.
    auto deadline = std::chrono::steady_clock::now() + options.busy_timeout;
    for (;;) {
        int rc = sqlite3_exec(impl->db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
        if (rc == SQLITE_OK) break;
        int primary = rc & 0xff;
        bool busy = primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
        if (!busy || std::chrono::steady_clock::now() >= deadline) {
            return sqlite_error(impl->db, rc, impl->name, "cannot enable WAL");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    SPARKCTL_TRY(exec_on(*impl, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON"));
    Database db(std::move(impl), std::move(path));
    if (options.migrate) SPARKCTL_TRY(db.migrate());
    return db;
}

Result<void> Database::exec(std::string_view sql) { return exec_on(*impl_, sql); }

Result<Statement> Database::prepare(std::string_view sql) {
    auto s = std::make_unique<Statement::Impl>();
    s->db = impl_->db;
    s->name = impl_->name;
    int rc =
        sqlite3_prepare_v2(impl_->db, sql.data(), static_cast<int>(sql.size()), &s->stmt, nullptr);
    if (rc != SQLITE_OK) {
        return sqlite_error(impl_->db, rc, impl_->name,
                            "cannot prepare '" + std::string(sql.substr(0, 60)) + "'");
    }
    return Statement(std::move(s));
}

Result<void> Database::transaction(const std::function<Result<void>()>& body) {
    SPARKCTL_TRY(exec("BEGIN IMMEDIATE"));
    Result<void> r = body();
    if (r) r = exec("COMMIT");
    if (!r) {
        if (sqlite3_get_autocommit(impl_->db) == 0) (void)exec("ROLLBACK");
        return r.error();
    }
    return {};
}

std::int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(impl_->db); }

Result<int> Database::schema_version() {
    auto st = prepare("PRAGMA user_version");
    if (!st) return st.error();
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return make_error(Errc::internal, path_ + ": PRAGMA user_version returned no row");
    return static_cast<int>(st->column_int64(0));
}

Result<void> Database::migrate() {
    const int latest = latest_schema_version();
    auto current = schema_version();
    if (!current) return current.error();
    if (*current == latest) return {};
    return transaction([&]() -> Result<void> {
        // Re-read under the write lock: another process may have migrated meanwhile.
        auto v = schema_version();
        if (!v) return v.error();
        if (*v > latest) {
            return make_error(Errc::bad_input, path_ + ": schema version " + std::to_string(*v) +
                                                   " is newer than this sparkctl understands (" +
                                                   std::to_string(latest) + "); upgrade sparkctl");
        }
        for (const detail::Migration& m : detail::migrations()) {
            if (m.version <= *v) continue;
            auto r = exec(m.sql);
            if (!r) {
                return base::with_context(r.error(), "migration " + std::to_string(m.version) +
                                                         " (" + m.description + ")");
            }
        }
        return exec("PRAGMA user_version = " + std::to_string(latest));
    });
}

Statement::Statement(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Statement::Statement(Statement&& other) noexcept = default;
Statement& Statement::operator=(Statement&& other) noexcept = default;
Statement::~Statement() = default;

namespace {

Result<void> check_bind(const Statement::Impl& s, int rc, int index) {
    if (rc == SQLITE_OK) return {};
    return sqlite_error(s.db, rc, s.name, "cannot bind parameter " + std::to_string(index));
}

}  // namespace

Result<void> Statement::bind(int index, std::int64_t value) {
    return check_bind(*impl_, sqlite3_bind_int64(impl_->stmt, index, value), index);
}

Result<void> Statement::bind(int index, double value) {
    return check_bind(*impl_, sqlite3_bind_double(impl_->stmt, index, value), index);
}

Result<void> Statement::bind(int index, std::string_view text) {
    return check_bind(*impl_,
                      sqlite3_bind_text64(impl_->stmt, index, text.data(), text.size(),
                                          SQLITE_TRANSIENT, SQLITE_UTF8),
                      index);
}

Result<void> Statement::bind(int index, std::nullopt_t) {
    return check_bind(*impl_, sqlite3_bind_null(impl_->stmt, index), index);
}

Result<void> Statement::bind(int index, const std::optional<std::string>& text) {
    if (!text) return bind(index, std::nullopt);
    return bind(index, std::string_view(*text));
}

Result<bool> Statement::step() {
    int rc = sqlite3_step(impl_->stmt);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return sqlite_error(impl_->db, rc, impl_->name, "statement failed");
}

Result<void> Statement::run() {
    for (;;) {
        auto r = step();
        if (!r) return r.error();
        if (!*r) return {};
    }
}

Result<void> Statement::reset() {
    int rc = sqlite3_reset(impl_->stmt);
    if (rc != SQLITE_OK) return sqlite_error(impl_->db, rc, impl_->name, "cannot reset");
    return {};
}

bool Statement::column_is_null(int column) const {
    return sqlite3_column_type(impl_->stmt, column) == SQLITE_NULL;
}

std::int64_t Statement::column_int64(int column) const {
    return sqlite3_column_int64(impl_->stmt, column);
}

double Statement::column_double(int column) const {
    return sqlite3_column_double(impl_->stmt, column);
}

std::string Statement::column_text(int column) const {
    const unsigned char* p = sqlite3_column_text(impl_->stmt, column);
    int n = sqlite3_column_bytes(impl_->stmt, column);
    if (p == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

std::optional<std::string> Statement::column_optional_text(int column) const {
    if (column_is_null(column)) return std::nullopt;
    return column_text(column);
}

}  // namespace sparkctl::store
