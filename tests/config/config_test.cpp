#include "config/config.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "base/file.h"
#include "support/temp_dir.h"

namespace sparkctl::config {
namespace {

class ConfigTest : public test::TempDirTest {
  protected:
    void SetUp() override { env_["HOME"] = "/home/u"; }

    Sources sources() {
        Sources s;
        s.getenv = [this](const char* name) -> const char* {
            auto it = env_.find(name);
            return it == env_.end() ? nullptr : it->second.c_str();
        };
        return s;
    }
    std::filesystem::path write(const std::string& text) {
        auto p = dir_ / "config.toml";
        EXPECT_TRUE(base::write_file_atomic(p, text).ok());
        return p;
    }

    std::map<std::string, std::string> env_;
};

TEST_F(ConfigTest, DefaultsExpandHomeAndXdg) {
    auto cfg = Config::load(sources());
    ASSERT_TRUE(cfg.ok()) << cfg.error().message;
    EXPECT_EQ(cfg->value("hardware"), "dgx-spark");
    EXPECT_EQ(cfg->get("hardware").origin, Origin::default_value);
    EXPECT_EQ(cfg->value("github_root"), "/home/u/dev/github");
    EXPECT_EQ(cfg->value("data_dir"), "/home/u/.local/share/sparkctl");
    env_["XDG_DATA_HOME"] = "/xdg/data";
    EXPECT_EQ(Config::load(sources())->value("data_dir"), "/xdg/data/sparkctl");
    EXPECT_FALSE(cfg->file().has_value());  // no file at the default path
}

TEST_F(ConfigTest, PrecedenceDefaultFileEnvFlag) {
    Sources s = sources();
    s.file = write("hardware = \"rtx-5090\"\nclaude_home = \"~/ch\"\n");
    auto from_file = Config::load(s);
    ASSERT_TRUE(from_file.ok()) << from_file.error().message;
    EXPECT_EQ(from_file->value("hardware"), "rtx-5090");
    EXPECT_EQ(from_file->get("hardware").origin, Origin::file);
    EXPECT_EQ(from_file->get("hardware").where, s.file->string());
    EXPECT_EQ(from_file->value("claude_home"), "/home/u/ch");

    env_["SPARKCTL_HARDWARE"] = "h100-sxm";
    auto from_env = Config::load(s);
    EXPECT_EQ(from_env->value("hardware"), "h100-sxm");
    EXPECT_EQ(from_env->get("hardware").origin, Origin::env);
    EXPECT_EQ(from_env->get("hardware").where, "SPARKCTL_HARDWARE");

    s.flags["hardware"] = "m3-ultra";
    auto from_flag = Config::load(s);
    EXPECT_EQ(from_flag->value("hardware"), "m3-ultra");
    EXPECT_EQ(from_flag->get("hardware").origin, Origin::flag);
    EXPECT_EQ(from_flag->get("hardware").where, "--hardware");
    // Untouched keys keep their lower-precedence origin.
    EXPECT_EQ(from_flag->get("claude_home").origin, Origin::file);
}

TEST_F(ConfigTest, EnvNamesTheConfigFile) {
    auto p = write("log_level = \"debug\"\n");
    env_["SPARKCTL_CONFIG"] = p.string();
    auto cfg = Config::load(sources());
    ASSERT_TRUE(cfg.ok());
    EXPECT_EQ(cfg->value("log_level"), "debug");
    env_["SPARKCTL_CONFIG"] = (dir_ / "missing.toml").string();
    auto missing = Config::load(sources());
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().message.find("missing.toml"), std::string::npos);
}

TEST_F(ConfigTest, BadFilesAreNamedErrors) {
    Sources s = sources();
    s.file = write("hardware = \n");
    auto bad_toml = Config::load(s);
    ASSERT_FALSE(bad_toml.ok());
    EXPECT_EQ(bad_toml.error().code, base::Errc::bad_input);
    EXPECT_NE(bad_toml.error().message.find("config.toml:1"), std::string::npos);

    s.file = write("hardwre = \"x\"\n");
    auto unknown = Config::load(s);
    ASSERT_FALSE(unknown.ok());
    EXPECT_NE(unknown.error().message.find("unknown key 'hardwre'"), std::string::npos);

    s.file = write("hardware = [1, 2]\n");
    auto wrong_type = Config::load(s);
    ASSERT_FALSE(wrong_type.ok());
    EXPECT_NE(wrong_type.error().message.find("'hardware'"), std::string::npos);
}

TEST_F(ConfigTest, RawTablesKeepFreeFormKeys) {
    Sources s = sources();
    s.file = write(
        "hardware = \"dgx-spark\"\n"
        "[rules.R-OPS-2]\nenabled = false\n"
        "[rules.SPARKCTL-PLAN-1]\nvalue = 0.8\n"
        "[cluster]\nhosts = [\"spark-a\", \"spark-b\"]\nfabric_interface = \"enp1s0f1np1\"\n"
        "port = 6379\n");
    auto cfg = Config::load(s);
    ASSERT_TRUE(cfg.ok()) << cfg.error().message;
    EXPECT_EQ(cfg->value("hardware"), "dgx-spark");
    const auto rules = cfg->table("rules");
    ASSERT_EQ(rules.size(), 2u);
    EXPECT_EQ(rules.at("R-OPS-2.enabled"), "false");
    EXPECT_EQ(rules.at("SPARKCTL-PLAN-1.value"), "0.8");
    const auto cluster = cfg->table("cluster");
    EXPECT_EQ(cluster.at("hosts"), "spark-a,spark-b");
    EXPECT_EQ(cluster.at("fabric_interface"), "enp1s0f1np1");
    EXPECT_EQ(cluster.at("port"), "6379");
    EXPECT_TRUE(cfg->table("nothing").empty());
    // Raw keys are not options.
    for (const auto& [spec, setting] : cfg->all()) EXPECT_NE(spec->key.substr(0, 5), "rules");

    // Arrays stay an error outside raw tables, and arrays of tables inside them.
    s.file = write("[cluster]\nhosts = [{a = 1}]\n");
    auto nested = Config::load(s);
    ASSERT_FALSE(nested.ok());
    EXPECT_NE(nested.error().message.find("'cluster.hosts'"), std::string::npos);
    s.file = write("rules = 1\n");
    EXPECT_FALSE(Config::load(s).ok());
}

TEST_F(ConfigTest, TableListsEveryOptionOnceWithEnvNamedAfterKey) {
    std::set<std::string_view> keys;
    for (const OptionSpec& o : options()) {
        EXPECT_TRUE(keys.insert(o.key).second) << o.key;
        std::string expected = "SPARKCTL_";
        for (char c : o.key) expected += static_cast<char>(std::toupper(c));
        EXPECT_EQ(o.env, expected);
        EXPECT_FALSE(o.help.empty());
    }
    EXPECT_NE(find_option("hardware"), nullptr);
    EXPECT_EQ(find_option("nope"), nullptr);
}

}  // namespace
}  // namespace sparkctl::config
