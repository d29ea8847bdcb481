// End-to-end tests of the command-line contract: the real binary in a temporary HOME.
#include <gtest/gtest.h>

#include "support/sandbox.h"

namespace sparkctl::test {
namespace {

TEST(CliE2e, VersionAndHelp) {
    Sandbox s;
    auto v = s.run({"--version"});
    EXPECT_EQ(v.exit_code, 0);
    EXPECT_NE(v.out.find("sparkctl "), std::string::npos);
    auto h = s.run({"--help"});
    EXPECT_EQ(h.exit_code, 0);
    for (const char* cmd : {"models", "inspect", "hw", "config"}) {
        EXPECT_NE(h.out.find(cmd), std::string::npos) << cmd;
    }
}

TEST(CliE2e, UnknownCommandIsUsageErrorWithJsonError) {
    Sandbox s;
    auto r = s.run({"frobnicate", "--json"});
    EXPECT_EQ(r.exit_code, 2);
    auto doc = r.json();
    ASSERT_TRUE(doc.contains("error"));
    EXPECT_EQ(doc["error"]["code"], 2);
    EXPECT_FALSE(doc["error"]["message"].get<std::string>().empty());
    EXPECT_NE(r.err.find("error"), std::string::npos);
}

TEST(CliE2e, ConfigShowReportsOriginsByPrecedence) {
    Sandbox s;
    s.write(".config/sparkctl/config.toml", "hardware = \"rtx-5090\"\ngithub_root = \"~/code\"\n");
    s.env["SPARKCTL_CLAUDE_HOME"] = "/tmp/ch";
    auto r = s.run({"config", "show", "--json", "--data-dir", "/tmp/d"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto doc = r.json();
    std::map<std::string, nlohmann::json> by_key;
    for (const auto& o : doc["options"]) by_key[o["key"]] = o;
    EXPECT_EQ(by_key["hardware"]["value"], "rtx-5090");
    EXPECT_EQ(by_key["hardware"]["origin"], "file");
    EXPECT_EQ(by_key["github_root"]["value"], (s.home() / "code").string());
    EXPECT_EQ(by_key["claude_home"]["origin"], "env");
    EXPECT_EQ(by_key["claude_home"]["where"], "SPARKCTL_CLAUDE_HOME");
    EXPECT_EQ(by_key["data_dir"]["value"], "/tmp/d");
    EXPECT_EQ(by_key["data_dir"]["origin"], "flag");
    EXPECT_EQ(by_key["log_level"]["origin"], "default");
}

TEST(CliE2e, BadConfigFileIsOneClearError) {
    Sandbox s;
    auto cfg = s.write("bad.toml", "hardware = = 1\n");
    auto r = s.run({"--config", cfg.string(), "config", "show"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("bad.toml"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty());
}

}  // namespace
}  // namespace sparkctl::test
