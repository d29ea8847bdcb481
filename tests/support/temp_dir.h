// The one temporary-directory fixture of the test suite: a fresh, unique directory per object
// (mkdtemp under the system temp dir), removed with everything in it on destruction.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace sparkctl::test {

class TempDir {
  public:
    // `prefix` names the directory (<tmp>/<prefix>_XXXXXX), to tell leftovers apart.
    explicit TempDir(std::string_view prefix = "sparkctl_test");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    // Writes `bytes` exactly to `relative` below path() (an absolute path is used as is),
    // creating parents; fails the current test when it cannot. Returns the file's path.
    std::filesystem::path write(const std::filesystem::path& relative,
                                std::string_view bytes) const;
    // The contents of `relative` below path() (or an absolute path); fails the test and
    // returns "" when it cannot be read.
    std::string read(const std::filesystem::path& relative) const;

  private:
    std::filesystem::path path_;
};

// A GoogleTest fixture with one TempDir per test, at dir_.
class TempDirTest : public ::testing::Test {
  protected:
    TempDir temp_;
    const std::filesystem::path dir_ = temp_.path();
};

}  // namespace sparkctl::test
