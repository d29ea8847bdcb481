// Identity of a process for reattaching after a daemon restart: a pid alone can be reused, so
// the pid is paired with the process start time (field 22 of /proc/PID/stat, clock ticks since
// boot; proc(5)) and its process group.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "base/result.h"

namespace sparkctl::serve {

struct ProcIdentity {
    pid_t pid = 0;
    pid_t pgid = 0;
    std::uint64_t start_ticks = 0;  // /proc/PID/stat field 22 (starttime)
    char state = '?';               // field 3: 'Z' is a zombie (exited, not yet reaped)
};

// Parses the text of a /proc/PID/stat file (the comm field may hold spaces and parentheses: the
// fields after it start after the last ')'). Errors: bad_input naming what is missing.
base::Result<ProcIdentity> parse_proc_stat(std::string_view text);

// Reads /proc/PID/stat under `proc_root` (tests pass a directory in /proc's shape). Errors:
// not_found when the process does not exist, bad_input when the file is malformed.
base::Result<ProcIdentity> read_proc_identity(pid_t pid,
                                              const std::filesystem::path& proc_root = "/proc");

// True when `pid` is alive (not a zombie) and is the very process `expected` recorded (same start
// time and process group): the proof a restarted daemon needs before it adopts or signals it.
bool same_process(const ProcIdentity& expected, const std::filesystem::path& proc_root = "/proc");

}  // namespace sparkctl::serve
