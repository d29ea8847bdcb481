// The daemon, `sparkctl serve`: one per admin socket (flock). It owns the loop (serve/loop.h),
// the supervisor, the admission ledger and the state store, and answers the admin API (`up`,
// `down`, `ps`, `logs`, `status`) on the Unix socket; with --listen it runs the gateway (the
// OpenAI endpoint, gateway.h) as its Registry. docs/dev/serve.md tells the life of a load.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "base/result.h"
#include "config/config.h"
#include "serve/supervisor.h"

namespace sparkctl::serve {

struct DaemonOptions {
    std::filesystem::path socket_path;
    std::optional<std::string> listen;  // "HOST:PORT" for the gateway (port 0: a free one)
    bool simulate = false;              // engines swapped for the stand-in (`simulate serve`)
    std::string sparkctl_exe;           // this binary, for --simulate
    std::filesystem::path data_dir;     // state.db and logs/
    int drain_grace_ms = 15'000;        // SIGTERM: how long streams, then children get to stop
    SupervisorOptions supervisor;
    // (Re)reads the config file: at start and on SIGHUP.
    std::function<base::Result<config::Config>()> load_config;
};

// Runs until SIGTERM or SIGINT; returns the process exit status. Errors before serving (another
// daemon holds the socket, the store cannot be opened, the config is bad) are returned as Error.
base::Result<int> run_daemon(const DaemonOptions& options);

}  // namespace sparkctl::serve
