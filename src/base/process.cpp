#include "base/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

extern char** environ;

namespace sparkctl::base {

namespace {

using Clock = std::chrono::steady_clock;

// Closes the descriptors it holds on every path out of run_process.
struct Fds {
    int fds[6] = {-1, -1, -1, -1, -1, -1};
    ~Fds() {
        for (int fd : fds) {
            if (fd >= 0) ::close(fd);
        }
    }
    void close_one(int i) {
        if (fds[i] >= 0) ::close(fds[i]);
        fds[i] = -1;
    }
};

std::string join_argv(const std::vector<std::string>& argv) {
    std::string s;
    for (const auto& a : argv) {
        if (!s.empty()) s += ' ';
        s += a;
    }
    return s;
}

// Reads what is available on fd into out (up to cap); false at end of stream.
bool drain(int fd, std::string& out, std::size_t cap) {
    char buf[65536];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) return errno == EINTR || errno == EAGAIN;
    if (n == 0) return false;
    std::size_t room = out.size() < cap ? cap - out.size() : 0;
    out.append(buf, static_cast<std::size_t>(n) < room ? static_cast<std::size_t>(n) : room);
    return true;
}

}  // namespace

Result<ProcessResult> run_process(const std::vector<std::string>& argv, const RunOptions& options) {
    if (argv.empty()) return make_error(Errc::internal, "run_process: empty argv");
    const std::string what = join_argv(argv);

    Fds p;  // 0,1: stdin pipe; 2,3: stdout pipe; 4,5: stderr pipe
    for (int i = 0; i < 6; i += 2) {
        if (::pipe2(&p.fds[i], O_CLOEXEC) != 0) {
            return make_error(Errc::io, what + ": cannot create pipe: " + std::strerror(errno));
        }
    }

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, p.fds[0], 0);
    posix_spawn_file_actions_adddup2(&actions, p.fds[3], 1);
    posix_spawn_file_actions_adddup2(&actions, p.fds[5], 2);
    if (options.cwd) {
        posix_spawn_file_actions_addchdir_np(&actions, options.cwd->c_str());
    }
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);  // its own process group, killed as a whole
    sigset_t empty_mask;
    sigemptyset(&empty_mask);
    posix_spawnattr_setsigmask(&attr, &empty_mask);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    posix_spawnattr_setsigdefault(&attr, &defaults);

    std::vector<std::string> env_storage;
    for (char** e = environ; *e != nullptr; ++e) {
        std::string_view kv(*e);
        bool overridden = false;
        for (const auto& [k, v] : options.env_set) {
            if (kv.size() > k.size() && kv.substr(0, k.size()) == k && kv[k.size()] == '=') {
                overridden = true;
            }
        }
        if (!overridden) env_storage.emplace_back(kv);
    }
    for (const auto& [k, v] : options.env_set) env_storage.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_storage) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_storage = argv;
    std::vector<char*> cargv;
    for (auto& s : argv_storage) cargv.push_back(s.data());
    cargv.push_back(nullptr);

    pid_t pid = -1;
    int rc = ::posix_spawnp(&pid, cargv[0], &actions, &attr, cargv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        Errc code = (rc == ENOENT) ? Errc::not_found : Errc::io;
        return make_error(code, argv[0] + ": cannot start: " + std::strerror(rc));
    }
    p.close_one(0);
    p.close_one(3);
    p.close_one(5);

    // Feed stdin (small inputs only: written whole before reading output). A child that exits
    // without reading it must not kill the caller: SIGPIPE is blocked on this thread for the
    // writes, and one raised by them (EPIPE) is taken off the pending set before unblocking.
    if (options.stdin_text) {
        const std::string& in = *options.stdin_text;
        sigset_t pipe_only;
        sigset_t old_mask;
        sigemptyset(&pipe_only);
        sigaddset(&pipe_only, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_only, &old_mask);
        bool broken = false;
        std::size_t done = 0;
        while (done < in.size()) {
            ssize_t n = ::write(p.fds[1], in.data() + done, in.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && errno == EPIPE) broken = true;
            if (n <= 0) break;
            done += static_cast<std::size_t>(n);
        }
        if (broken && sigismember(&old_mask, SIGPIPE) == 0) {
            const timespec now{0, 0};
            while (sigtimedwait(&pipe_only, nullptr, &now) == -1 && errno == EINTR) {
            }
        }
        pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    }
    p.close_one(1);

    ProcessResult result;
    const bool has_deadline = options.timeout.count() > 0;
    const auto deadline = Clock::now() + options.timeout;
    Clock::time_point kill_at{};
    bool out_open = true;
    bool err_open = true;
    while (out_open || err_open) {
        int wait_ms = -1;
        if (has_deadline) {
            auto now = Clock::now();
            if (!result.timed_out && now >= deadline) {
                result.timed_out = true;
                ::kill(-pid, SIGTERM);
                kill_at = now + std::chrono::seconds(2);
            }
            if (result.timed_out && now >= kill_at) {
                ::kill(-pid, SIGKILL);
                kill_at = now + std::chrono::hours(1);
            }
            auto next = result.timed_out ? kill_at : deadline;
            wait_ms = static_cast<int>(
                std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1);
        }
        pollfd pfds[2];
        int n = 0;
        if (out_open) pfds[n++] = {p.fds[2], POLLIN, 0};
        if (err_open) pfds[n++] = {p.fds[4], POLLIN, 0};
        int ready = ::poll(pfds, static_cast<nfds_t>(n), wait_ms);
        if (ready < 0 && errno != EINTR) break;
        if (ready <= 0) continue;
        for (int i = 0; i < n; ++i) {
            if ((pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
            bool is_out = pfds[i].fd == p.fds[2];
            std::string& sink = is_out ? result.stdout_text : result.stderr_text;
            if (!drain(pfds[i].fd, sink, options.max_output_bytes)) {
                (is_out ? out_open : err_open) = false;
            }
        }
    }

    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return make_error(Errc::io, what + ": waitpid failed: " + std::strerror(errno));
        }
    }
    if (WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.signal = WTERMSIG(status);
    }
    return result;
}

}  // namespace sparkctl::base
