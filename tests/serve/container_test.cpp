// The docker CLI calls of container deployments (serve/container.h): their argv and the parsing
// of what docker prints. The calls themselves run against tests/serve/docker-double.sh in
// serve_e2e_test.
#include "serve/container.h"

#include <gtest/gtest.h>

namespace sparkctl::serve {
namespace {

using Argv = std::vector<std::string>;

const std::string kId = "4f6a5c1f0d2e9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b";

TEST(Container, Argv) {
    EXPECT_EQ(docker_logs_argv("docker", kId, false), (Argv{"docker", "logs", "-f", kId}));
    EXPECT_EQ(docker_logs_argv("docker", kId, true),
              (Argv{"docker", "logs", "-f", "--tail", "0", kId}));
    EXPECT_EQ(docker_stop_argv("/usr/bin/docker", kId, 10),
              (Argv{"/usr/bin/docker", "stop", "-t", "10", kId}));
    EXPECT_EQ(docker_rm_argv("docker", kId), (Argv{"docker", "rm", "-f", kId}));
    EXPECT_EQ(docker_list_argv("docker", "0123abcd"),
              (Argv{"docker", "ps", "-a", "-q", "--no-trunc", "--filter",
                    "label=sparkctl.instance=0123abcd"}));
}

TEST(Container, RunPrintsTheIdOnItsLastLine) {
    auto id = parse_container_id(kId + "\n");
    ASSERT_TRUE(id.ok()) << id.error().message;
    EXPECT_EQ(*id, kId);
    // A pull before the run prints progress first (docker run's "Unable to find image locally").
    id = parse_container_id("latest: Pulling from org/image\nStatus: Downloaded\n" + kId + "\n");
    ASSERT_TRUE(id.ok());
    EXPECT_EQ(*id, kId);
    auto none = parse_container_id("");
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.error().code, base::Errc::bad_input);
    EXPECT_FALSE(parse_container_id("not an id\n").ok());
    EXPECT_FALSE(parse_container_id("ABCDEF0123456789\n").ok());  // docker prints lowercase
}

TEST(Container, PsListsIds) {
    EXPECT_EQ(parse_container_ids(kId + "\n\n" + kId.substr(0, 12) + "\n"),
              (Argv{kId, kId.substr(0, 12)}));
    EXPECT_TRUE(parse_container_ids("").empty());
}

TEST(Container, AMissingClientIsNotFound) {
    auto r = docker_list("/nonexistent/docker", "x");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::not_found);
    EXPECT_EQ(docker_exit_status("/nonexistent/docker", kId), "");
}

}  // namespace
}  // namespace sparkctl::serve
