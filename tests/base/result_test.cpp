#include "base/result.h"

#include <gtest/gtest.h>

#include "base/exit_status.h"

namespace sparkctl::base {
namespace {

Result<int> parse_positive(int v) {
    if (v <= 0) return make_error(Errc::bad_input, "value " + std::to_string(v) + " is not positive");
    return v;
}

Result<int> doubled(int v) {
    auto r = parse_positive(v);
    SPARKCTL_TRY(r);
    return r.value() * 2;
}

TEST(Result, CarriesValueOrError) {
    auto ok = parse_positive(3);
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(*ok, 3);
    auto bad = parse_positive(-1);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, Errc::bad_input);
    EXPECT_EQ(bad.error().message, "value -1 is not positive");
}

TEST(Result, TryPropagatesTheError) {
    EXPECT_EQ(*doubled(4), 8);
    auto bad = doubled(0);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().message, "value 0 is not positive");
}

TEST(Result, ContextPrefixesTheMessage) {
    Error e = with_context(make_error(Errc::io, "read failed"), "model.gguf");
    EXPECT_EQ(e.message, "model.gguf: read failed");
    EXPECT_EQ(e.code, Errc::io);
}

TEST(ExitStatus, MapsErrorCodes) {
    EXPECT_EQ(exit_status_for(Errc::bad_input), kExitBadInput);
    EXPECT_EQ(exit_status_for(Errc::not_found), kExitBadInput);
    EXPECT_EQ(exit_status_for(Errc::io), kExitFailure);
    EXPECT_EQ(exit_status_for(Errc::internal), kExitFailure);
}

}  // namespace
}  // namespace sparkctl::base
