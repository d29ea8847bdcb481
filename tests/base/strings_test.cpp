#include "base/strings.h"

#include <gtest/gtest.h>

namespace sparkctl::base {
namespace {

TEST(Strings, ParseU64RejectsJunkAndOverflow) {
    EXPECT_EQ(parse_u64("0"), 0u);
    EXPECT_EQ(parse_u64("18446744073709551615"), 18446744073709551615ull);
    EXPECT_FALSE(parse_u64("18446744073709551616"));
    EXPECT_FALSE(parse_u64(""));
    EXPECT_FALSE(parse_u64("12a"));
    EXPECT_FALSE(parse_u64("-1"));
}

TEST(Strings, ParseBytesUnits) {
    EXPECT_EQ(parse_bytes("1024"), 1024u);
    EXPECT_EQ(parse_bytes("64GiB"), 64ull << 30);
    EXPECT_EQ(parse_bytes("64G"), 64ull << 30);
    EXPECT_EQ(parse_bytes("100GB"), 100000000000ull);
    EXPECT_EQ(parse_bytes(" 1.5 MiB "), 1572864u);
    EXPECT_FALSE(parse_bytes("1.2.3G"));
    EXPECT_FALSE(parse_bytes("12 parsecs"));
    EXPECT_FALSE(parse_bytes("GiB"));
    EXPECT_FALSE(parse_bytes("99999999999TiB"));
}

TEST(Strings, FormatBytes) {
    EXPECT_EQ(format_bytes(512), "512 B");
    EXPECT_EQ(format_bytes(1536), "1.50 KiB");
    EXPECT_EQ(format_bytes(59.02 * (1ull << 30)), "59.02 GiB");
}

TEST(Strings, CaseAndSplit) {
    EXPECT_TRUE(iequals("GPT-OSS-120B", "gpt-oss-120b"));
    EXPECT_FALSE(iequals("gpt", "gpt-oss"));
    EXPECT_EQ(to_lower("Q4_K_M"), "q4_k_m");
    EXPECT_EQ(split("a,b,,c", ','), (std::vector<std::string>{"a", "b", "", "c"}));
    EXPECT_EQ(trim("  x y \n"), "x y");
}

TEST(Strings, XmlEscapeMakesTextSafeInXml) {
    EXPECT_EQ(base::xml_escape("a<b>&\"c'd"), "a&lt;b&gt;&amp;&quot;c&apos;d");
    EXPECT_EQ(base::xml_escape(std::string("x\x01y\tz\n", 6)), "xy\tz\n");  // XML 1.0 has no \x01
    EXPECT_EQ(base::xml_escape("caf\xc3\xa9"), "caf\xc3\xa9");              // UTF-8 kept as is
}

TEST(Strings, PrintableEscapesControlBytes) {
    EXPECT_EQ(printable(std::string("ab\x01\xff", 4)), "ab\\x01\\xff");
    EXPECT_EQ(printable(std::string(100, 'a'), 4), "aaaa...");
}

}  // namespace
}  // namespace sparkctl::base
