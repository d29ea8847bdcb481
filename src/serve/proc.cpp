#include "serve/proc.h"

#include <charconv>
#include <string>
#include <vector>

#include "base/file.h"

namespace sparkctl::serve {

using base::Errc;
using base::make_error;
using base::Result;

Result<ProcIdentity> parse_proc_stat(std::string_view text) {
    // proc(5): "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
    // cmajflt utime stime cutime cstime priority nice num_threads itrealvalue starttime ...".
    auto open = text.find('(');
    auto close = text.rfind(')');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
        return make_error(Errc::bad_input, "proc stat: no '(comm)' field");
    }
    ProcIdentity id;
    auto pid_text = text.substr(0, open);
    while (!pid_text.empty() && pid_text.back() == ' ') pid_text.remove_suffix(1);
    if (std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), id.pid).ec !=
        std::errc{}) {
        return make_error(Errc::bad_input, "proc stat: bad pid field");
    }
    std::vector<std::string_view> fields;  // fields[0] is field 3 (state)
    std::string_view rest = text.substr(close + 1);
    std::size_t i = 0;
    while (i < rest.size()) {
        while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\n')) ++i;
        std::size_t j = i;
        while (j < rest.size() && rest[j] != ' ' && rest[j] != '\n') ++j;
        if (j > i) fields.push_back(rest.substr(i, j - i));
        i = j;
    }
    auto field = [&](int n) -> std::string_view {  // 1-based field number of proc(5)
        std::size_t k = static_cast<std::size_t>(n - 3);
        return k < fields.size() ? fields[k] : std::string_view{};
    };
    if (!field(3).empty()) id.state = field(3)[0];
    auto pgrp = field(5);
    auto start = field(22);
    if (pgrp.empty() || start.empty()) {
        return make_error(Errc::bad_input, "proc stat: fewer than 22 fields");
    }
    if (std::from_chars(pgrp.data(), pgrp.data() + pgrp.size(), id.pgid).ec != std::errc{} ||
        std::from_chars(start.data(), start.data() + start.size(), id.start_ticks).ec !=
            std::errc{}) {
        return make_error(Errc::bad_input, "proc stat: bad pgrp or starttime field");
    }
    return id;
}

Result<ProcIdentity> read_proc_identity(pid_t pid, const std::filesystem::path& proc_root) {
    auto path = proc_root / std::to_string(pid) / "stat";
    std::error_code ec;
    if (pid <= 0 || !std::filesystem::exists(path, ec)) {
        return make_error(Errc::not_found, "process " + std::to_string(pid) + ": not running");
    }
    auto text = base::read_file(path, 64 * 1024);
    if (!text) return make_error(Errc::not_found, "process " + std::to_string(pid) + ": gone");
    auto id = parse_proc_stat(*text);
    if (!id) return base::with_context(id.error(), path.string());
    return id;
}

bool same_process(const ProcIdentity& expected, const std::filesystem::path& proc_root) {
    auto now = read_proc_identity(expected.pid, proc_root);
    return now && now->state != 'Z' && now->start_ticks == expected.start_ticks &&
           now->pgid == expected.pgid;
}

}  // namespace sparkctl::serve
