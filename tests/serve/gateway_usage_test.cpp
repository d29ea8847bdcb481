// The gateway's token counts and output-event rule on each engine's Responses and Messages
// shapes: the events below are the stand-in's output verbatim (`sparkctl simulate serve
// qwen3-8b --engine E --timing fixed:5,1`, docs/dev/sim.md "Other APIs"; a second request with
// the same prompt, so llama.cpp reports cached prompt tokens apart). And one edge of the request
// reader that the fuzz target's run for this found.
#include <gtest/gtest.h>

#include <string>

#include "serve/gateway.h"

namespace sparkctl::serve {
namespace {

// llama.cpp /v1/messages, streamed: input_tokens (uncached) and cache_read_input_tokens only in
// message_start's "message"; message_delta has output_tokens alone.
const char* kLlamaMessageStart =
    R"({"message":{"content":[],"id":"chatcmpl-sim-1","model":"qwen3-8b","role":"assistant",)"
    R"("stop_reason":null,"stop_sequence":null,"type":"message","usage":)"
    R"({"cache_read_input_tokens":2,"input_tokens":1,"output_tokens":0}},"type":"message_start"})";
const char* kLlamaMessageDelta =
    R"({"delta":{"stop_reason":"max_tokens","stop_sequence":null},"type":"message_delta",)"
    R"("usage":{"output_tokens":2}})";
// vLLM /v1/messages, streamed: message_start's usage and message_delta's both.
const char* kVllmMessageStart =
    R"({"message":{"content":[],"id":"chatcmpl-sim-1","model":"qwen3-8b","stop_reason":null,)"
    R"("stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":0}},)"
    R"("type":"message_start"})";
const char* kVllmMessageDelta = R"({"delta":{"stop_reason":"max_tokens"},"type":"message_delta",)"
                                R"("usage":{"input_tokens":3,"output_tokens":2}})";
// Whole /v1/messages answers.
const char* kLlamaMessageWhole =
    R"({"content":[{"text":"The stand-in","type":"text"}],"id":"chatcmpl-sim-2",)"
    R"("model":"qwen3-8b","role":"assistant","stop_reason":"max_tokens","stop_sequence":null,)"
    R"("type":"message","usage":{"cache_read_input_tokens":2,"input_tokens":1,"output_tokens":2}})";
const char* kVllmMessageWhole =
    R"({"content":[{"text":"The stand-in","type":"text"}],"id":"chatcmpl-sim-2",)"
    R"("model":"qwen3-8b","role":"assistant","stop_reason":"max_tokens","type":"message",)"
    R"("usage":{"input_tokens":3,"output_tokens":2}})";
// /v1/responses, streamed: usage only in response.completed's "response" (input_tokens counts
// the cached tokens too, OpenAI's input_tokens_details.cached_tokens being a part of it).
const char* kLlamaResponseCompleted =
    R"({"response":{"completed_at":1796679767,"created_at":1796679767,"id":"resp_sim-3",)"
    R"("model":"qwen3-8b","object":"response","output":[{"content":[{"annotations":[],)"
    R"("logprobs":[],"text":"The stand-in","type":"output_text"}],"id":"msg_sim-3",)"
    R"("role":"assistant","status":"completed","type":"message"}],"status":"completed",)"
    R"("usage":{"input_tokens":3,"input_tokens_details":{"cached_tokens":2},"output_tokens":2,)"
    R"("total_tokens":5}},"timings":{"cache_n":2,"predicted_ms":1.0,"predicted_n":2,)"
    R"("prompt_ms":5.0,"prompt_n":1},"type":"response.completed"})";
const char* kVllmResponseCompleted =
    R"({"response":{"created_at":1796679768,"id":"resp_sim-3","model":"qwen3-8b",)"
    R"("object":"response","output":[{"content":[{"annotations":[],"logprobs":[],)"
    R"("text":"The stand-in","type":"output_text"}],"id":"msg_sim-3","role":"assistant",)"
    R"("status":"completed","type":"message"}],"status":"completed","usage":{"input_tokens":3,)"
    R"("input_tokens_details":{"cached_tokens":2},"output_tokens":2,)"
    R"("output_tokens_details":{"reasoning_tokens":0},"total_tokens":5}},"sequence_number":9,)"
    R"("type":"response.completed"})";
const char* kVllmResponseCreated =
    R"({"response":{"created_at":1796679768,"id":"resp_sim-3","model":"qwen3-8b",)"
    R"("object":"response","output":[],"status":"in_progress"},"sequence_number":0,)"
    R"("type":"response.created"})";

TEST(GatewayUsageTest, StreamedMessagesOnEachEngine) {
    // message_start: nothing at the top level; the nested read has the whole prompt.
    EXPECT_FALSE(read_usage(kLlamaMessageStart).prompt_tokens.has_value());
    UsageCounts u = read_nested_usage(kLlamaMessageStart, "message");
    EXPECT_EQ(u.prompt_tokens, 3u);  // 1 uncached + 2 read from the cache
    EXPECT_EQ(u.completion_tokens, 0u);
    u = read_usage(kLlamaMessageDelta);
    EXPECT_FALSE(u.prompt_tokens.has_value());  // the gateway keeps message_start's count
    EXPECT_EQ(u.completion_tokens, 2u);
    u = read_nested_usage(kVllmMessageStart, "message");
    EXPECT_EQ(u.prompt_tokens, 3u);
    u = read_usage(kVllmMessageDelta);
    EXPECT_EQ(u.prompt_tokens, 3u);
    EXPECT_EQ(u.completion_tokens, 2u);
    // A parent that is not there, or the wrong one: nothing.
    EXPECT_FALSE(read_nested_usage(kLlamaMessageStart, "response").prompt_tokens.has_value());
    EXPECT_FALSE(read_nested_usage(kLlamaMessageDelta, "message").completion_tokens.has_value());
}

TEST(GatewayUsageTest, WholeMessagesCountTheCachedPrompt) {
    UsageCounts u = read_usage(kLlamaMessageWhole);
    EXPECT_EQ(u.prompt_tokens, 3u);
    EXPECT_EQ(u.completion_tokens, 2u);
    u = read_usage(kVllmMessageWhole);
    EXPECT_EQ(u.prompt_tokens, 3u);
    EXPECT_EQ(u.completion_tokens, 2u);
    // Anthropic's cache_creation_input_tokens adds too; cache fields without input_tokens do
    // not make a prompt count (a later event's partial usage keeps the earlier count).
    u = read_usage(R"({"usage":{"input_tokens":4,"cache_creation_input_tokens":10,)"
                   R"("cache_read_input_tokens":20,"output_tokens":1}})");
    EXPECT_EQ(u.prompt_tokens, 34u);
    EXPECT_FALSE(
        read_usage(R"({"usage":{"cache_read_input_tokens":20}})").prompt_tokens.has_value());
    // OpenAI's prompt_tokens is not added to: cache fields go with input_tokens only.
    EXPECT_EQ(
        read_usage(R"({"usage":{"prompt_tokens":5,"cache_read_input_tokens":20}})").prompt_tokens,
        5u);
    // The sum saturates; a non-integer cache field adds nothing.
    EXPECT_EQ(read_usage(R"({"usage":{"input_tokens":18446744073709551615,)"
                         R"("cache_read_input_tokens":2}})")
                  .prompt_tokens,
              18446744073709551615u);
    EXPECT_EQ(
        read_usage(R"({"usage":{"input_tokens":4,"cache_read_input_tokens":-1}})").prompt_tokens,
        4u);
}

TEST(GatewayUsageTest, StreamedResponsesOnEachEngine) {
    for (const char* completed : {kLlamaResponseCompleted, kVllmResponseCompleted}) {
        EXPECT_FALSE(read_usage(completed).prompt_tokens.has_value());
        const UsageCounts u = read_nested_usage(completed, "response");
        EXPECT_EQ(u.prompt_tokens, 3u);  // input_tokens: cached_tokens is a part of it
        EXPECT_EQ(u.completion_tokens, 2u);
    }
    // response.created carries no usage.
    const UsageCounts u = read_nested_usage(kVllmResponseCreated, "response");
    EXPECT_FALSE(u.prompt_tokens.has_value());
    EXPECT_FALSE(u.completion_tokens.has_value());
}

TEST(GatewayUsageTest, WholeResponses) {
    // The whole Response object: usage at the top level (not flat: the details objects).
    const UsageCounts u =
        read_usage(R"({"created_at":1,"id":"resp_sim-0","model":"qwen3-8b","object":"response",)"
                   R"("output":[],"status":"completed","usage":{"input_tokens":4,)"
                   R"("input_tokens_details":{"cached_tokens":0},"output_tokens":6,)"
                   R"("output_tokens_details":{"reasoning_tokens":0},"total_tokens":10}})");
    EXPECT_EQ(u.prompt_tokens, 4u);
    EXPECT_EQ(u.completion_tokens, 6u);
}

TEST(GatewayUsageTest, NestedReadFollowsTheDocument) {
    // The last top-level "response" wins; a decoy in a string or deeper does not count.
    UsageCounts u = read_nested_usage(
        R"({"response":{"usage":{"input_tokens":1}},"x":"\"response\":{\"usage\":{}}",)"
        R"("y":{"response":{"usage":{"input_tokens":9}}},"response":{"usage":{"input_tokens":2}}})",
        "response");
    EXPECT_EQ(u.prompt_tokens, 2u);
    // Escaped top-level keys: the document decides.
    u = read_nested_usage(R"({"r\u0065sponse":{"usage":{"output_tokens":5}}})", "response");
    EXPECT_EQ(u.completion_tokens, 5u);
    // Not an object where one is needed: nothing.
    EXPECT_FALSE(read_nested_usage(R"({"response":null})", "response").prompt_tokens);
    EXPECT_FALSE(read_nested_usage(R"({"response":[{"usage":{"input_tokens":1}}]})", "response")
                     .prompt_tokens);
    EXPECT_FALSE(read_nested_usage(R"({"response":{"usage":7}})", "response").prompt_tokens);
    EXPECT_FALSE(read_nested_usage(R"([{"response":{"usage":{"input_tokens":1}}}])", "response")
                     .prompt_tokens);
    EXPECT_FALSE(read_nested_usage("", "response").prompt_tokens);
    EXPECT_FALSE(read_nested_usage(R"({"r\u0065sponse":{"usage":{"input_tokens":1}})", "response")
                     .prompt_tokens);  // unterminated: not JSON
}

TEST(GatewayUsageTest, OutputEventsAreTheTokenBearingOnes) {
    // Unnamed (chat and completions) and the delta events carry output.
    for (const char* t : {"message", "response.output_text.delta", "response.reasoning_text.delta",
                          "response.function_call_arguments.delta", "content_block_delta"}) {
        EXPECT_TRUE(sse_event_carries_output(t)) << t;
    }
    // Lifecycle events, sent before generation or in one write with a token, do not.
    for (const char* t :
         {"response.created", "response.in_progress", "response.output_item.added",
          "response.content_part.added", "response.output_text.done", "response.content_part.done",
          "response.output_item.done", "response.completed", "message_start", "content_block_start",
          "content_block_stop", "message_delta", "message_stop", "ping", "error", ".delta", ""}) {
        EXPECT_FALSE(sse_event_carries_output(t)) << t;
    }
}

// A number a double cannot hold is not JSON to the document (nlohmann: "number overflow"), so
// the request reader refuses it too (gateway_fuzz found its quick reading accepting 2E888...).
TEST(GatewayParseNumberTest, OverflowingNumbersAreTheDocumentsCall) {
    net::Request r;
    r.body = R"({"model":"laxy","x":2E888888})";
    EXPECT_FALSE(parse_relay_request(r).ok());
    r.body = R"({"model":"laxy","x":)" + std::string(400, '9') + "}";
    EXPECT_FALSE(parse_relay_request(r).ok());
    // Exponents and long numbers a double holds still read.
    r.body = R"({"model":"laxy","temperature":5e-1,"n":1E2,"big":)" + std::string(305, '1') +
             R"(,"stream":true})";
    auto p = parse_relay_request(r);
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->model, "laxy");
    EXPECT_TRUE(p->stream);
}

}  // namespace
}  // namespace sparkctl::serve
