// Container deployments (kind = container): the docker CLI calls serve makes, each a real
// `docker` process (base::run_process, with a timeout) except `docker logs -f`, which the
// supervisor runs as the deployment's process (its exit is the container's).
//
// The flags, from the docker CLI reference (docs.docker.com/reference/cli/docker/container/...):
// `run -d` ("Run container in background and print container ID"), `--label key=value`;
// `logs -f` (follow) and `-n/--tail` ("Number of lines to show from the end of the logs"); `stop
// -t N` ("Seconds to wait before killing the container": SIGTERM, then SIGKILL); `rm -f` (kill a
// running container, then remove it); `ps -a -q --no-trunc --filter label=k=v` (all states, full
// ids only, by label); `inspect --format '{{.State.Running}} {{.State.ExitCode}}'` (Go template
// over the container's State). The Debian docker-cli man pages
// (docker-container-stop(1), docker-logs(1), docker-ps(1)) list the same options.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace sparkctl::serve {

// The labels every container serve starts carries: the deployment id, and the daemon instance
// (one per data directory) so a daemon only ever sweeps its own leftovers.
inline constexpr const char* kDeploymentLabel = "sparkctl.deployment";
inline constexpr const char* kInstanceLabel = "sparkctl.instance";

std::vector<std::string> docker_logs_argv(const std::string& docker, const std::string& id,
                                          bool new_lines_only);
std::vector<std::string> docker_stop_argv(const std::string& docker, const std::string& id,
                                          int grace_s);
std::vector<std::string> docker_rm_argv(const std::string& docker, const std::string& id);
std::vector<std::string> docker_exit_code_argv(const std::string& docker, const std::string& id);
std::vector<std::string> docker_list_argv(const std::string& docker, const std::string& instance);

// The container id `docker run -d` prints: its last non-empty stdout line, 12-64 lowercase hex
// digits. Errors: bad_input quoting the output when there is none.
base::Result<std::string> parse_container_id(std::string_view stdout_text);
// The ids `docker ps -q` prints, one a line (blank lines skipped).
std::vector<std::string> parse_container_ids(std::string_view stdout_text);

// Runs `docker run -d ...` (`argv`) and returns the new container's id. Errors: not_found when
// the docker client does not exist; io with docker's own message (stderr) when it exits non-zero
// or times out.
base::Result<std::string> docker_run(const std::vector<std::string>& argv,
                                     std::chrono::milliseconds timeout);
// "exit N" from `docker inspect` once the container has exited; "" while it runs or when docker
// cannot say (the container is gone).
std::string docker_exit_status(const std::string& docker, const std::string& id);
// `docker rm -f ID`. Errors: io with docker's message.
base::Result<void> docker_remove(const std::string& docker, const std::string& id);
// `docker stop -t grace ID`, then `docker rm -f ID`: for leftovers at start-up.
base::Result<void> docker_stop_and_remove(const std::string& docker, const std::string& id,
                                          int grace_s);
// The ids of this instance's containers, any state. Errors: not_found (no docker client), io.
base::Result<std::vector<std::string>> docker_list(const std::string& docker,
                                                   const std::string& instance);

}  // namespace sparkctl::serve
