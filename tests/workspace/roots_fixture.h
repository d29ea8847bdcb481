// A fresh directory per test (support/temp_dir.h) with workspace roots inside it.
#pragma once

#include <filesystem>
#include <string>

#include "support/temp_dir.h"
#include "workspace/roots.h"

namespace sparkctl::workspace::testing {

class RootsTest : public test::TempDirTest {
  protected:
    RootsTest() {
        roots_.github_root = dir_ / "github";
        roots_.claude_home = dir_ / "claude-home";
        roots_.data_dir = dir_ / "data";
    }

    void make_roots() {
        std::filesystem::create_directories(roots_.github_root);
        std::filesystem::create_directories(roots_.claude_home);
    }
    std::filesystem::path write(const std::filesystem::path& path, const std::string& text) {
        return temp_.write(path, text);
    }
    std::string read(const std::filesystem::path& path) { return temp_.read(path); }

    Roots roots_;
};

}  // namespace sparkctl::workspace::testing
