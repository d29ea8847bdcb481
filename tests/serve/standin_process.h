// A `sparkctl simulate serve` child for the gateway tests: its own process group and temp HOME,
// port 0, waited on by the port line it prints (the stand-in prints it once bound and ready),
// killed by process group at the end.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "support/sandbox.h"
#include "support/temp_dir.h"

namespace sparkctl::test {

class StandinProcess {
  public:
    // `args` follow `simulate serve`; the stand-in must be started with --port 0.
    explicit StandinProcess(const std::vector<std::string>& args) {
        int fds[2];
        if (pipe(fds) != 0) return;
        pid_ = fork();
        if (pid_ == 0) {
            setpgid(0, 0);
            dup2(fds[1], 2);
            close(fds[0]);
            close(fds[1]);
            setenv("HOME", home_.path().c_str(), 1);
            setenv("XDG_CONFIG_HOME", (home_.path() / ".config").c_str(), 1);
            unsetenv("SPARKCTL_CONFIG");
            unsetenv("SPARKCTL_HARDWARE");
            std::vector<std::string> all{sparkctl_binary().string(), "simulate", "serve"};
            all.insert(all.end(), args.begin(), args.end());
            std::vector<char*> argv;
            for (std::string& s : all) argv.push_back(s.data());
            argv.push_back(nullptr);
            execv(argv[0], argv.data());
            _exit(127);
        }
        close(fds[1]);
        err_ = fdopen(fds[0], "r");
        port_ = wait_port("ready on port ");
    }
    ~StandinProcess() {
        kill_now();
        if (err_) std::fclose(err_);
    }
    StandinProcess(const StandinProcess&) = delete;
    StandinProcess& operator=(const StandinProcess&) = delete;

    // 0 when the process ended before it was ready (see log()).
    int port() const { return port_; }
    const std::string& log() const { return log_; }
    void kill_now() {
        if (pid_ > 0) {
            kill(-pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
    }

  private:
    int wait_port(const std::string& marker) {
        char line[4096];
        while (err_ && std::fgets(line, sizeof line, err_)) {
            log_ += line;
            const std::string l(line);
            if (auto at = l.find(marker); at != std::string::npos) {
                return std::atoi(l.c_str() + at + marker.size());
            }
        }
        return 0;
    }

    TempDir home_{"gateway_standin"};
    pid_t pid_ = -1;
    FILE* err_ = nullptr;
    int port_ = 0;
    std::string log_;
};

}  // namespace sparkctl::test
