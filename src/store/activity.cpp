#include "store/activity.h"

namespace sparkctl::store {

using base::Result;

Result<std::int64_t> insert_activity(Database& db, const ActivityRecord& record) {
    std::int64_t id = 0;
    auto r = db.transaction([&]() -> Result<void> {
        auto st = db.prepare(
            "INSERT INTO activity (created_at_s, type, title, project, read_tokens) "
            "VALUES (?1, ?2, ?3, ?4, ?5)");
        if (!st) return st.error();
        SPARKCTL_TRY(st->bind(1, record.created_at_s));
        SPARKCTL_TRY(st->bind(2, std::string_view(record.type)));
        SPARKCTL_TRY(st->bind(3, std::string_view(record.title)));
        SPARKCTL_TRY(st->bind(4, record.project));
        SPARKCTL_TRY(st->bind(5, record.read_tokens));
        SPARKCTL_TRY(st->run());
        id = db.last_insert_rowid();
        return {};
    });
    if (!r) return base::with_context(r.error(), "recording activity");
    return id;
}

Result<std::vector<ActivityRecord>> recent_activity(Database& db, const ActivityQuery& query) {
    auto st = db.prepare(
        "SELECT id, created_at_s, type, title, project, read_tokens FROM activity "
        "WHERE created_at_s >= ?1 AND (?2 IS NULL OR project = ?2) "
        "ORDER BY created_at_s DESC, id DESC LIMIT ?3");
    if (!st) return st.error();
    SPARKCTL_TRY(st->bind(1, query.since_s));
    SPARKCTL_TRY(st->bind(2, query.project));
    SPARKCTL_TRY(st->bind(3, static_cast<std::int64_t>(query.limit)));
    std::vector<ActivityRecord> out;
    for (;;) {
        auto row = st->step();
        if (!row) return base::with_context(row.error(), "reading activity");
        if (!*row) break;
        ActivityRecord rec;
        rec.id = st->column_int64(0);
        rec.created_at_s = st->column_int64(1);
        rec.type = st->column_text(2);
        rec.title = st->column_text(3);
        rec.project = st->column_optional_text(4);
        rec.read_tokens = st->column_int64(5);
        out.push_back(std::move(rec));
    }
    return out;
}

}  // namespace sparkctl::store
