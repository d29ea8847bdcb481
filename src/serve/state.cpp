#include "serve/state.h"

#include <ctime>

namespace sparkctl::serve {

using base::Result;

namespace {

std::int64_t now_s() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::int64_t i64(std::uint64_t v) { return static_cast<std::int64_t>(v); }

constexpr const char* kColumns =
    "id, origin, request, model, engine, quant, pinned, state, port, api_key, log_path, pid, "
    "pgid, start_ticks, container_id, planned_bytes, weights_bytes, measured_bytes, restarts, "
    "last_exit";

DeploymentRow read_row(const store::Statement& st) {
    DeploymentRow r;
    r.id = st.column_text(0);
    r.origin = st.column_text(1);
    r.request = st.column_text(2);
    r.model = st.column_text(3);
    r.engine = st.column_text(4);
    r.quant = st.column_text(5);
    r.pinned = st.column_int64(6) != 0;
    r.state = st.column_text(7);
    r.port = static_cast<std::uint16_t>(st.column_int64(8));
    r.api_key = st.column_optional_text(9).value_or("");
    r.log_path = st.column_optional_text(10).value_or("");
    r.proc.pid = static_cast<pid_t>(st.column_int64(11));
    r.proc.pgid = static_cast<pid_t>(st.column_int64(12));
    r.proc.start_ticks = static_cast<std::uint64_t>(st.column_int64(13));
    r.container_id = st.column_optional_text(14).value_or("");
    r.planned_bytes = static_cast<std::uint64_t>(st.column_int64(15));
    r.weights_bytes = static_cast<std::uint64_t>(st.column_int64(16));
    if (!st.column_is_null(17)) r.measured_bytes = static_cast<std::uint64_t>(st.column_int64(17));
    r.restarts = static_cast<int>(st.column_int64(18));
    r.last_exit = st.column_optional_text(19).value_or("");
    return r;
}

}  // namespace

Result<void> StateStore::put(const DeploymentRow& r) {
    auto st = db_.prepare(std::string("INSERT OR REPLACE INTO deployments (") + kColumns +
                          ", updated_at_s) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                          "?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)");
    if (!st) return st.error();
    SPARKCTL_TRY(st->bind(1, std::string_view(r.id)));
    SPARKCTL_TRY(st->bind(2, std::string_view(r.origin)));
    SPARKCTL_TRY(st->bind(3, std::string_view(r.request)));
    SPARKCTL_TRY(st->bind(4, std::string_view(r.model)));
    SPARKCTL_TRY(st->bind(5, std::string_view(r.engine)));
    SPARKCTL_TRY(st->bind(6, std::string_view(r.quant)));
    SPARKCTL_TRY(st->bind(7, std::int64_t{r.pinned ? 1 : 0}));
    SPARKCTL_TRY(st->bind(8, std::string_view(r.state)));
    SPARKCTL_TRY(st->bind(9, std::int64_t{r.port}));
    SPARKCTL_TRY(st->bind(10, std::string_view(r.api_key)));
    SPARKCTL_TRY(st->bind(11, std::string_view(r.log_path)));
    SPARKCTL_TRY(st->bind(12, std::int64_t{r.proc.pid}));
    SPARKCTL_TRY(st->bind(13, std::int64_t{r.proc.pgid}));
    SPARKCTL_TRY(st->bind(14, i64(r.proc.start_ticks)));
    SPARKCTL_TRY(st->bind(15, std::string_view(r.container_id)));
    SPARKCTL_TRY(st->bind(16, i64(r.planned_bytes)));
    SPARKCTL_TRY(st->bind(17, i64(r.weights_bytes)));
    if (r.measured_bytes) {
        SPARKCTL_TRY(st->bind(18, i64(*r.measured_bytes)));
    } else {
        SPARKCTL_TRY(st->bind(18, std::nullopt));
    }
    SPARKCTL_TRY(st->bind(19, std::int64_t{r.restarts}));
    SPARKCTL_TRY(st->bind(20, std::string_view(r.last_exit)));
    SPARKCTL_TRY(st->bind(21, now_s()));
    return st->run();
}

Result<void> StateStore::set_process(const std::string& id, const std::string& state,
                                     const ProcIdentity& proc, int restarts,
                                     const std::string& last_exit) {
    auto st = db_.prepare(
        "UPDATE deployments SET state = ?2, pid = ?3, pgid = ?4, start_ticks = ?5, restarts = ?6, "
        "last_exit = ?7, updated_at_s = ?8 WHERE id = ?1");
    if (!st) return st.error();
    SPARKCTL_TRY(st->bind(1, std::string_view(id)));
    SPARKCTL_TRY(st->bind(2, std::string_view(state)));
    SPARKCTL_TRY(st->bind(3, std::int64_t{proc.pid}));
    SPARKCTL_TRY(st->bind(4, std::int64_t{proc.pgid}));
    SPARKCTL_TRY(st->bind(5, i64(proc.start_ticks)));
    SPARKCTL_TRY(st->bind(6, std::int64_t{restarts}));
    SPARKCTL_TRY(st->bind(7, std::string_view(last_exit)));
    SPARKCTL_TRY(st->bind(8, now_s()));
    return st->run();
}

Result<void> StateStore::set_measured(const std::string& id, std::uint64_t measured_bytes) {
    auto st = db_.prepare("UPDATE deployments SET measured_bytes = ?2 WHERE id = ?1");
    if (!st) return st.error();
    SPARKCTL_TRY(st->bind(1, std::string_view(id)));
    SPARKCTL_TRY(st->bind(2, i64(measured_bytes)));
    return st->run();
}

Result<void> StateStore::record_exit(const std::string& id, const std::string& how) {
    auto st =
        db_.prepare("INSERT INTO deployment_exits (deployment, at_s, how) VALUES (?1, ?2, ?3)");
    if (!st) return st.error();
    SPARKCTL_TRY(st->bind(1, std::string_view(id)));
    SPARKCTL_TRY(st->bind(2, now_s()));
    SPARKCTL_TRY(st->bind(3, std::string_view(how)));
    return st->run();
}

Result<void> StateStore::remove(const std::string& id) {
    auto st = db_.prepare("DELETE FROM deployments WHERE id = ?1");
    if (!st) return st.error();
    SPARKCTL_TRY(st->bind(1, std::string_view(id)));
    return st->run();
}

Result<std::vector<DeploymentRow>> StateStore::all() {
    auto st = db_.prepare(std::string("SELECT ") + kColumns + " FROM deployments ORDER BY id");
    if (!st) return st.error();
    std::vector<DeploymentRow> out;
    for (;;) {
        auto row = st->step();
        if (!row) return row.error();
        if (!*row) break;
        out.push_back(read_row(*st));
    }
    return out;
}

Result<std::optional<DeploymentRow>> StateStore::get(const std::string& id) {
    auto st = db_.prepare(std::string("SELECT ") + kColumns + " FROM deployments WHERE id = ?1");
    if (!st) return st.error();
    SPARKCTL_TRY(st->bind(1, std::string_view(id)));
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return std::optional<DeploymentRow>{};
    return std::optional<DeploymentRow>(read_row(*st));
}

Result<std::vector<std::string>> StateStore::exits(const std::string& id) {
    auto st = db_.prepare("SELECT how FROM deployment_exits WHERE deployment = ?1 ORDER BY id");
    if (!st) return st.error();
    SPARKCTL_TRY(st->bind(1, std::string_view(id)));
    std::vector<std::string> out;
    for (;;) {
        auto row = st->step();
        if (!row) return row.error();
        if (!*row) break;
        out.push_back(st->column_text(0));
    }
    return out;
}

}  // namespace sparkctl::serve
