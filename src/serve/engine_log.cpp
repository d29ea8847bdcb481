#include "serve/engine_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>

namespace sparkctl::serve {

using base::Errc;
using base::make_error;
using base::Result;

namespace fs = std::filesystem;

namespace {

fs::path numbered(const fs::path& log, int n) {
    return n == 0 ? log : fs::path(log.string() + "." + std::to_string(n));
}

}  // namespace

Result<int> open_engine_log(const fs::path& log) {
    std::error_code ec;
    fs::create_directories(log.parent_path(), ec);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        return make_error(Errc::io, log.string() + ": cannot open log: " + std::strerror(errno));
    }
    return fd;
}

Result<bool> rotate_if_needed(const fs::path& log, const LogRotation& rotation) {
    std::error_code ec;
    auto size = fs::file_size(log, ec);
    if (ec || size <= rotation.max_bytes) return false;
    if (rotation.keep <= 0) {
        fs::resize_file(log, 0, ec);
    } else {
        fs::remove(numbered(log, rotation.keep), ec);
        for (int n = rotation.keep - 1; n >= 1; --n) {
            if (fs::exists(numbered(log, n), ec)) {
                fs::rename(numbered(log, n), numbered(log, n + 1), ec);
                if (ec) {
                    return make_error(
                        Errc::io, numbered(log, n).string() + ": cannot rotate: " + ec.message());
                }
            }
        }
        fs::copy_file(log, numbered(log, 1), fs::copy_options::overwrite_existing, ec);
        if (ec) return make_error(Errc::io, log.string() + ": cannot copy: " + ec.message());
        fs::resize_file(log, 0, ec);
    }
    if (ec) return make_error(Errc::io, log.string() + ": cannot truncate: " + ec.message());
    return true;
}

std::vector<std::string> tail_lines(const fs::path& log, std::size_t lines, int keep) {
    std::deque<std::string> out;
    for (int n = 0; n <= keep && out.size() < lines; ++n) {
        std::ifstream in(numbered(log, n));
        if (!in) continue;
        std::deque<std::string> file_lines;
        std::string line;
        while (std::getline(in, line)) {
            file_lines.push_back(std::move(line));
            if (file_lines.size() > lines) file_lines.pop_front();
        }
        while (!file_lines.empty() && out.size() < lines) {
            out.push_front(std::move(file_lines.back()));
            file_lines.pop_back();
        }
    }
    return {out.begin(), out.end()};
}

}  // namespace sparkctl::serve
