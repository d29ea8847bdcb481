#include "support/standin_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "support/sandbox.h"

namespace sparkctl::test {

Standin::Standin(const std::vector<std::string>& args) {
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
}

Standin::~Standin() {
    if (pid_ > 0) {
        kill(-pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    if (err_) std::fclose(err_);
}

std::uint16_t Standin::wait_port(const std::string& marker) {
    char line[4096];
    while (err_ && std::fgets(line, sizeof line, err_)) {
        log_ += line;
        const std::string l(line);
        if (auto at = l.find(marker); at != std::string::npos) {
            return static_cast<std::uint16_t>(std::atoi(l.c_str() + at + marker.size()));
        }
    }
    return 0;
}

int Standin::wait_exit() {
    for (int i = 0; i < 2000; ++i) {
        int st = 0;
        if (waitpid(pid_, &st, WNOHANG) == pid_) {
            pid_ = -1;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
}

}  // namespace sparkctl::test
