#include "base/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

namespace sparkctl::base {

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::warn)};
std::mutex g_mutex;
}  // namespace

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel log_level() { return static_cast<LogLevel>(g_level.load()); }

void log(LogLevel level, std::string_view message) {
    if (static_cast<int>(level) < g_level.load()) return;
    static const char* const kNames[] = {"debug", "info", "warning", "error"};
    std::string line = "sparkctl: ";
    if (level != LogLevel::info) {
        line += kNames[static_cast<int>(level)];
        line += ": ";
    }
    line += message;
    line += '\n';
    std::lock_guard<std::mutex> lock(g_mutex);
    std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace sparkctl::base
