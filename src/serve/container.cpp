#include "serve/container.h"

#include <algorithm>

#include "base/process.h"
#include "base/strings.h"

namespace sparkctl::serve {

namespace {

using base::Errc;
using base::make_error;
using namespace std::chrono_literals;

bool is_container_id(std::string_view s) {
    return s.size() >= 12 && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

base::Result<base::ProcessResult> run(const std::vector<std::string>& argv,
                                      std::chrono::milliseconds timeout) {
    base::RunOptions o;
    o.timeout = timeout;
    o.max_output_bytes = 1u << 20;
    return base::run_process(argv, o);
}

// What went wrong with a docker call: its stderr's last line, or how it ended.
std::string failure(const std::vector<std::string>& argv, const base::ProcessResult& r) {
    std::string what = argv.size() > 1 ? argv[0] + " " + argv[1] : argv[0];
    if (r.timed_out) return what + ": timed out";
    std::string err(base::trim(r.stderr_text));
    if (auto nl = err.rfind('\n'); nl != std::string::npos) err = err.substr(nl + 1);
    return what + ": exit " + std::to_string(r.exit_code) +
           (err.empty() ? "" : ": " + base::printable(err));
}

base::Result<base::ProcessResult> must_run(const std::vector<std::string>& argv,
                                           std::chrono::milliseconds timeout) {
    auto r = run(argv, timeout);
    if (!r) return r.error();
    if (r->timed_out || r->exit_code != 0) return make_error(Errc::io, failure(argv, *r));
    return r;
}

}  // namespace

std::vector<std::string> docker_logs_argv(const std::string& docker, const std::string& id,
                                          bool new_lines_only) {
    std::vector<std::string> argv = {docker, "logs", "-f"};
    if (new_lines_only) argv.insert(argv.end(), {"--tail", "0"});
    argv.push_back(id);
    return argv;
}

std::vector<std::string> docker_stop_argv(const std::string& docker, const std::string& id,
                                          int grace_s) {
    return {docker, "stop", "-t", std::to_string(grace_s), id};
}

std::vector<std::string> docker_rm_argv(const std::string& docker, const std::string& id) {
    return {docker, "rm", "-f", id};
}

std::vector<std::string> docker_exit_code_argv(const std::string& docker, const std::string& id) {
    return {docker, "inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", id};
}

std::vector<std::string> docker_list_argv(const std::string& docker, const std::string& instance) {
    return {docker,
            "ps",
            "-a",
            "-q",
            "--no-trunc",
            "--filter",
            std::string("label=") + kInstanceLabel + "=" + instance};
}

base::Result<std::string> parse_container_id(std::string_view stdout_text) {
    std::string last;
    for (const std::string& line : base::split(stdout_text, '\n')) {
        const std::string_view t = base::trim(line);
        if (!t.empty()) last = std::string(t);
    }
    if (!is_container_id(last)) {
        return make_error(Errc::bad_input, "docker run -d printed no container id: '" +
                                               base::printable(std::string(stdout_text)) + "'");
    }
    return last;
}

std::vector<std::string> parse_container_ids(std::string_view stdout_text) {
    std::vector<std::string> out;
    for (const std::string& line : base::split(stdout_text, '\n')) {
        const std::string_view t = base::trim(line);
        if (is_container_id(t)) out.emplace_back(t);
    }
    return out;
}

base::Result<std::string> docker_run(const std::vector<std::string>& argv,
                                     std::chrono::milliseconds timeout) {
    auto r = must_run(argv, timeout);
    if (!r) return r.error();
    return parse_container_id(r->stdout_text);
}

std::string docker_exit_status(const std::string& docker, const std::string& id) {
    auto r = must_run(docker_exit_code_argv(docker, id), 30s);
    if (!r) return "";
    const std::string said(base::trim(r->stdout_text));  // "false 137"
    if (!said.starts_with("false ")) return "";          // still running: no exit yet
    const std::string code = said.substr(6);
    return base::parse_u64(code) ? "exit " + code : "";
}

base::Result<void> docker_remove(const std::string& docker, const std::string& id) {
    auto r = must_run(docker_rm_argv(docker, id), 60s);
    if (!r) return r.error();
    return {};
}

base::Result<void> docker_stop_and_remove(const std::string& docker, const std::string& id,
                                          int grace_s) {
    // An exited container makes stop a no-op; whatever stop says, rm -f makes sure it is gone.
    (void)must_run(docker_stop_argv(docker, id, grace_s), std::chrono::seconds(grace_s + 30));
    return docker_remove(docker, id);
}

base::Result<std::vector<std::string>> docker_list(const std::string& docker,
                                                   const std::string& instance) {
    auto r = must_run(docker_list_argv(docker, instance), 60s);
    if (!r) return r.error();
    return parse_container_ids(r->stdout_text);
}

}  // namespace sparkctl::serve
