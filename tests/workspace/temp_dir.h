// A fresh directory per test, removed afterwards, with workspace roots inside it.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "base/file.h"
#include "workspace/roots.h"

namespace sparkctl::workspace::testing {

class TempDirTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("sparkctl_ws_test_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
        roots_.github_root = dir_ / "github";
        roots_.claude_home = dir_ / "claude-home";
        roots_.data_dir = dir_ / "data";
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    void make_roots() {
        std::filesystem::create_directories(roots_.github_root);
        std::filesystem::create_directories(roots_.claude_home);
    }
    std::filesystem::path write(const std::filesystem::path& path, const std::string& text) {
        std::filesystem::create_directories(path.parent_path());
        EXPECT_TRUE(base::write_file_atomic(path, text).ok());
        return path;
    }
    std::string read(const std::filesystem::path& path) {
        auto r = base::read_file(path, 1u << 24);
        EXPECT_TRUE(r.ok()) << path;
        return r.ok() ? *r : std::string();
    }

    std::filesystem::path dir_;
    Roots roots_;
};

}  // namespace sparkctl::workspace::testing
