#include "net/sse.h"

#include <gtest/gtest.h>

#include <vector>

namespace sparkctl::net {
namespace {

std::vector<SseEvent> parse_all(std::string_view text, std::size_t piece = 0) {
    SseParser parser;
    std::vector<SseEvent> events;
    const auto on = [&](const SseEvent& e) { events.push_back(e); };
    if (piece == 0) {
        EXPECT_TRUE(parser.feed(text, on).ok());
    } else {
        for (std::size_t i = 0; i < text.size(); i += piece) {
            EXPECT_TRUE(parser.feed(text.substr(i, piece), on).ok());
        }
    }
    return events;
}

TEST(SseParser, OpenAiStyleStream) {
    const auto events = parse_all("data: {\"a\":1}\n\ndata: [DONE]\n\n");
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].data, "{\"a\":1}");
    EXPECT_EQ(events[0].type, "message");
    EXPECT_EQ(events[1].data, "[DONE]");
}

TEST(SseParser, LineEndsCrLfAndCrAndLf) {
    const std::string text = "data: a\r\n\r\ndata: b\r\rdata: c\n\n";
    for (std::size_t piece : {0u, 1u, 2u, 3u}) {
        const auto events = parse_all(text, piece);
        ASSERT_EQ(events.size(), 3u) << "piece " << piece;
        EXPECT_EQ(events[0].data, "a");
        EXPECT_EQ(events[1].data, "b");
        EXPECT_EQ(events[2].data, "c");
    }
}

TEST(SseParser, CrLfSplitAcrossFeedsIsOneLineEnd) {
    SseParser p;
    std::vector<SseEvent> events;
    const auto on = [&](const SseEvent& e) { events.push_back(e); };
    ASSERT_TRUE(p.feed("data: x\r", on).ok());
    ASSERT_TRUE(p.feed("\ndata: y\r", on).ok());  // LF completes CRLF: no blank line yet
    EXPECT_TRUE(events.empty());
    ASSERT_TRUE(p.feed("\n\r\n", on).ok());
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].data, "x\ny");
}

TEST(SseParser, MultiLineDataEventIdRetryAndComments) {
    // The WHATWG spec's own examples: multi-line data, comments, a named event with an id.
    const auto events = parse_all(
        ": this is a comment\n"
        "event: add\ndata: 73857293\nid: 7\nretry: 1500\n\n"
        "data: first\ndata:second\ndata\n\n"
        "data: after id\n\n");
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].type, "add");
    EXPECT_EQ(events[0].data, "73857293");
    EXPECT_EQ(events[0].last_event_id, "7");
    EXPECT_EQ(events[0].retry_ms, 1500);
    EXPECT_EQ(events[1].type, "message");          // the event type resets after dispatch
    EXPECT_EQ(events[1].data, "first\nsecond\n");  // "data" alone adds an empty line
    EXPECT_EQ(events[2].last_event_id, "7");       // the last event id persists
}

TEST(SseParser, SpaceAfterColonRemovedOnce) {
    const auto events = parse_all("data:  two spaces\n\n");
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].data, " two spaces");
}

TEST(SseParser, NoDataNoEventAndUnknownFieldsIgnored) {
    const auto events = parse_all("event: ping\n\nfoo: bar\n\nid: 3\n\n");
    EXPECT_TRUE(events.empty());
}

TEST(SseParser, BadRetryAndIdWithNulIgnored) {
    using namespace std::string_literals;
    const auto events = parse_all("retry: 10x\nretry: -5\nid: a\0b\ndata: d\n\n"s);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_FALSE(events[0].retry_ms.has_value());
    EXPECT_EQ(events[0].last_event_id, "");
}

TEST(SseParser, LeadingBomSkippedEvenWhenSplit) {
    const std::string text =
        "\xEF\xBB\xBF"
        "data: x\n\n";
    for (std::size_t piece : {0u, 1u, 2u}) {
        const auto events = parse_all(text, piece);
        ASSERT_EQ(events.size(), 1u);
        EXPECT_EQ(events[0].data, "x");
    }
}

TEST(SseParser, IncompleteEventAtEndIsPending) {
    SseParser p;
    int n = 0;
    ASSERT_TRUE(p.feed("data: partial\n", [&](const SseEvent&) { ++n; }).ok());
    EXPECT_EQ(n, 0);
    EXPECT_TRUE(p.has_pending_data());
}

TEST(SseParser, OverlongLineIsAnErrorThatSticks) {
    SseParser p(16);
    int n = 0;
    const auto on = [&](const SseEvent&) { ++n; };
    auto r = p.feed("data: 0123456789abcdef\n\n", on);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("longer than 16 bytes"), std::string::npos);
    EXPECT_FALSE(p.feed("data: x\n\n", on).ok());
    EXPECT_EQ(n, 0);
}

TEST(SseFraming, EventRoundTripsThroughTheParser) {
    const std::string framed = sse_event("line1\nline2\r\nline3", "update", "42");
    EXPECT_EQ(framed, "event: update\nid: 42\ndata: line1\ndata: line2\ndata: line3\n\n");
    const auto events = parse_all(framed + sse_comment("keep\nalive") + "\n");
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].type, "update");
    EXPECT_EQ(events[0].data, "line1\nline2\nline3");
    EXPECT_EQ(sse_event(""), "data: \n\n");
    EXPECT_EQ(sse_comment("keep\nalive"), ": keep alive\n");
}

}  // namespace
}  // namespace sparkctl::net
