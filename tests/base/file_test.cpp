#include "base/file.h"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>

#include <fstream>

#include "base/process.h"
#include "support/temp_dir.h"

namespace sparkctl::base {
namespace {

class FileTest : public test::TempDirTest {};

TEST_F(FileTest, ReadAtChecksBoundsIncludingOverflow) {
    auto path = dir_ / "f.bin";
    ASSERT_TRUE(write_file_atomic(path, "0123456789").ok());
    auto f = RandomAccessFile::open(path);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(f->size(), 10u);
    std::string out;
    ASSERT_TRUE(f->read_at(2, 3, out).ok());
    EXPECT_EQ(out, "234");
    EXPECT_FALSE(f->read_at(8, 3, out).ok());
    auto overflow = f->read_at(~0ull, 2, out);
    ASSERT_FALSE(overflow.ok());
    EXPECT_EQ(overflow.error().code, Errc::bad_input);
    EXPECT_NE(overflow.error().message.find("f.bin"), std::string::npos);
}

TEST_F(FileTest, MissingFileIsNotFoundAndNamesThePath) {
    auto r = read_file(dir_ / "nope.json", 100);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::not_found);
    EXPECT_NE(r.error().message.find("nope.json"), std::string::npos);
}

TEST_F(FileTest, ReadFileEnforcesTheCapAndRejectsDirectories) {
    ASSERT_TRUE(write_file_atomic(dir_ / "big", std::string(100, 'x')).ok());
    EXPECT_FALSE(read_file(dir_ / "big", 99).ok());
    EXPECT_EQ(read_file(dir_ / "big", 100).value().size(), 100u);
    auto d = read_file(dir_, 100);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().code, Errc::bad_input);
}

TEST_F(FileTest, AtomicWriteReplacesWholeFile) {
    auto path = dir_ / "a.txt";
    ASSERT_TRUE(write_file_atomic(path, "first version, longer").ok());
    ASSERT_TRUE(write_file_atomic(path, "second").ok());
    EXPECT_EQ(read_file(path, 100).value(), "second");
    int entries = 0;
    for (auto& e : std::filesystem::directory_iterator(dir_)) entries += e.is_regular_file();
    EXPECT_EQ(entries, 1);  // no temporary left behind
}

TEST(Process, CapturesOutputAndExitCode) {
    auto r = run_process({"sh", "-c", "echo out; echo err >&2; exit 3"});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->exit_code, 3);
    EXPECT_EQ(r->stdout_text, "out\n");
    EXPECT_EQ(r->stderr_text, "err\n");
    EXPECT_FALSE(r->timed_out);
}

TEST(Process, FeedsStdinAndSetsEnvAndCwd) {
    RunOptions o;
    o.stdin_text = "hello";
    o.env_set = {{"SPARKCTL_TEST_VAR", "42"}};
    o.cwd = "/";
    auto r = run_process({"sh", "-c", "cat; echo \" $SPARKCTL_TEST_VAR $(pwd)\""}, o);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->stdout_text, "hello 42 /\n");
}

// A child that exits without reading its stdin: the write gets EPIPE, and the SIGPIPE it raises
// must neither kill the caller (gtest keeps SIGPIPE's default action) nor stay pending.
TEST(Process, AChildThatIgnoresItsStdinDoesNotKillTheCaller) {
    RunOptions o;
    o.stdin_text = std::string(4 << 20, 'x');  // far more than a pipe holds
    auto r = run_process({"sh", "-c", "exit 5"}, o);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->exit_code, 5);
    sigset_t pending;
    sigemptyset(&pending);
    ASSERT_EQ(sigpending(&pending), 0);
    EXPECT_EQ(sigismember(&pending, SIGPIPE), 0);
}

TEST(Process, MissingProgramIsNotFound) {
    auto r = run_process({"sparkctl-no-such-program-xyz"});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::not_found);
}

TEST(Process, TimeoutKillsTheProcessGroup) {
    RunOptions o;
    o.timeout = std::chrono::milliseconds(200);
    auto r = run_process({"sh", "-c", "sleep 30 & sleep 30"}, o);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->timed_out);
    EXPECT_NE(r->signal, 0);
}

}  // namespace
}  // namespace sparkctl::base

namespace sparkctl::base {
namespace {

TEST(ReadFile, ReadsProcFilesThatReportSizeZero) {
    auto r = read_file("/proc/self/status", 1u << 20);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_NE(r->find("Name:"), std::string::npos);
    EXPECT_FALSE(read_file("/proc/self/status", 10).ok());  // the cap still holds
}

}  // namespace
}  // namespace sparkctl::base

namespace sparkctl::base {
namespace {

TEST(ReadFile, FifoIsRejectedWithoutBlocking) {
    test::TempDir dir;
    auto path = dir.path() / "fifo";
    ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
    auto r = read_file(path, 100);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::bad_input);
    EXPECT_NE(r.error().message.find("not a regular file"), std::string::npos);
}

}  // namespace
}  // namespace sparkctl::base
