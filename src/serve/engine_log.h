// Per-deployment engine logs: the child writes its stdout and stderr straight into LOG (opened
// O_APPEND, so the child keeps logging while no daemon runs, e.g. after kill -9 and before the
// reattach); the daemon rotates by size with logrotate's copytruncate: LOG is copied to LOG.1
// (LOG.1 -> LOG.2 ... up to the count limit), then truncated. A line written between the copy
// and the truncation is lost; that is the price of never touching the child's descriptor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/result.h"

namespace sparkctl::serve {

struct LogRotation {
    std::uint64_t max_bytes = 16u << 20;  // rotate once LOG is larger than this
    int keep = 3;                         // LOG.1 .. LOG.keep are kept; older ones are removed
};

// Opens LOG for the child: created 0600 if missing, O_APPEND. The caller owns the descriptor.
// Errors: io naming the path.
base::Result<int> open_engine_log(const std::filesystem::path& log);

// Rotates LOG when it is larger than `rotation.max_bytes`; true when it rotated. Errors: io.
base::Result<bool> rotate_if_needed(const std::filesystem::path& log, const LogRotation& rotation);

// The last `lines` lines of the log, older rotated files first when LOG alone has fewer.
std::vector<std::string> tail_lines(const std::filesystem::path& log, std::size_t lines,
                                    int keep = 3);

}  // namespace sparkctl::serve
