// The stand-in's Responses, Messages and embeddings endpoints (src/sim/standin_apis.h): the
// request fields each engine reads, and a running stand-in of each engine answering each path in
// that engine's shapes: whole documents, the stream's event sequence, usage, refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <future>
#include <string>
#include <vector>

#include "net/client.h"
#include "net/sse.h"
#include "sim/standin.h"
#include "sim/standin_apis.h"

namespace sparkctl::sim::standin {
namespace {

using engines::Engine;
using nlohmann::json;

TEST(StandinApisRequest, PromptAndLimitsPerEngine) {
    const json resp = {
        {"model", "m"},
        {"instructions", "be brief"},
        {"input", json::array({{{"role", "user"}, {"content", "a b c"}},
                               {{"role", "user"},
                                {"content", {{{"type", "input_text"}, {"text", "d e"}}}}}})},
        {"max_output_tokens", 7}};
    for (const Engine e : {Engine::vllm, Engine::sglang, Engine::llama_cpp}) {
        auto r = read_api_request(e, Api::responses, resp);
        ASSERT_TRUE(std::holds_alternative<ApiRequest>(r));
        const ApiRequest& a = std::get<ApiRequest>(r);
        EXPECT_EQ(count_tokens(a.prompt), 7u) << a.prompt;  // be brief / a b c / d e
        EXPECT_EQ(a.limits_body.at("max_tokens"), 7);
        EXPECT_FALSE(a.limits_body.contains("max_output_tokens"));
    }
    // A missing input: 400 on every engine, in the engine's type.
    auto none = read_api_request(Engine::llama_cpp, Api::responses, json{{"model", "m"}});
    ASSERT_TRUE(std::holds_alternative<RequestError>(none));
    EXPECT_EQ(std::get<RequestError>(none).status, 400);
    EXPECT_EQ(std::get<RequestError>(none).message, "'input' is required");
    EXPECT_EQ(std::get<RequestError>(none).type, "invalid_request_error");
    auto bad = read_api_request(Engine::vllm, Api::responses, json{{"input", 3}});
    ASSERT_TRUE(std::holds_alternative<RequestError>(bad));
    EXPECT_EQ(std::get<RequestError>(bad).status, 400);

    const json msg = {{"model", "m"},
                      {"system", {{{"type", "text"}, {"text", "sys one"}}}},
                      {"messages", {{{"role", "user"}, {"content", "x y z"}}}}};
    // llama.cpp is permissive about max_tokens (4096); vLLM and SGLang require it.
    auto l = read_api_request(Engine::llama_cpp, Api::messages, msg);
    ASSERT_TRUE(std::holds_alternative<ApiRequest>(l));
    EXPECT_EQ(count_tokens(std::get<ApiRequest>(l).prompt), 5u);
    EXPECT_EQ(std::get<ApiRequest>(l).limits_body.at("max_tokens"), 4096);
    auto v = read_api_request(Engine::vllm, Api::messages, msg);
    ASSERT_TRUE(std::holds_alternative<RequestError>(v));
    EXPECT_EQ(std::get<RequestError>(v).status, 400);
    // llama.cpp's missing messages is a runtime_error: 500.
    auto m = read_api_request(Engine::llama_cpp, Api::messages, json{{"max_tokens", 3}});
    ASSERT_TRUE(std::holds_alternative<RequestError>(m));
    EXPECT_EQ(std::get<RequestError>(m).status, 500);
    EXPECT_EQ(std::get<RequestError>(m).type, "server_error");
}

std::vector<float> decode_floats(const std::string& b64) {
    std::string bytes;
    std::uint32_t acc = 0;
    int bits = 0;
    static constexpr const char* kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (const char c : b64) {
        if (c == '=') break;
        const char* p = std::strchr(kAlphabet, c);
        if (p == nullptr) return {};
        acc = (acc << 6) | static_cast<std::uint32_t>(p - kAlphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            bytes.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    std::vector<float> out(bytes.size() / 4);
    std::memcpy(out.data(), bytes.data(), out.size() * 4);  // little-endian host
    return out;
}

TEST(StandinApisEmbedding, DeterministicNormalisedAndBase64) {
    const std::vector<float> a = filler_embedding("hello world");
    ASSERT_EQ(a.size(), kEmbeddingDims);
    EXPECT_EQ(a, filler_embedding("hello world"));
    EXPECT_NE(a, filler_embedding("hello world!"));
    double norm = 0;
    for (const float x : a) norm += double(x) * x;
    EXPECT_NEAR(norm, 1.0, 1e-5);
    // 1.0f is 00 00 80 3f little-endian.
    EXPECT_EQ(base64_floats({1.0f}), "AACAPw==");
    EXPECT_EQ(base64_floats({1.0f, 2.0f}), "AACAPwAAAEA=");
    EXPECT_EQ(decode_floats(base64_floats(a)), a);

    std::uint32_t tokens = 0;
    auto doc = embeddings_document(json{{"input", {"a b", "c d e"}}, {"encoding_format", "base64"}},
                                   "m", tokens);
    ASSERT_TRUE(std::holds_alternative<json>(doc));
    const json& d = std::get<json>(doc);
    EXPECT_EQ(tokens, 5u);
    EXPECT_EQ(d["usage"], (json{{"prompt_tokens", 5}, {"total_tokens", 5}}));
    ASSERT_EQ(d["data"].size(), 2u);
    EXPECT_EQ(d["data"][1]["index"], 1);
    EXPECT_EQ(d["data"][1]["encoding_format"], "base64");
    EXPECT_EQ(decode_floats(d["data"][1]["embedding"]), filler_embedding("c d e"));
    EXPECT_EQ(d["model"], "m");
    for (const json& body : {json{{"content", "x"}}, json{{"input", ""}}, json{{"input", 4}},
                             json{{"input", "x"}, {"encoding_format", "int8"}}}) {
        auto e = embeddings_document(body, "m", tokens);
        ASSERT_TRUE(std::holds_alternative<RequestError>(e)) << body;
        EXPECT_EQ(std::get<RequestError>(e).status, 400) << body;
    }
}

// A running stand-in at --speed 0.
struct Reply {
    int status = 0;
    std::string body;
};

Reply post(std::uint16_t port, const std::string& target, const json& body) {
    net::Client client;
    net::ClientRequest r;
    r.port = port;
    r.method = "POST";
    r.target = target;
    r.headers = {{"Content-Type", "application/json"}};
    r.body = body.dump();
    r.timeout_ms = 10'000;
    auto out = std::make_shared<Reply>();
    std::promise<void> done;
    net::StreamCallbacks cb;
    cb.on_headers = [out](int status, const net::Headers&) { out->status = status; };
    cb.on_body = [out](std::string_view d, auto) { out->body.append(d); };
    cb.on_done = [&done](base::Result<void>) { done.set_value(); };
    client.request(std::move(r), std::move(cb));
    done.get_future().wait();
    return *out;
}

std::vector<net::SseEvent> events_of(const std::string& body) {
    std::vector<net::SseEvent> out;
    net::SseParser p;
    EXPECT_TRUE(p.feed(body, [&](const net::SseEvent& e) { out.push_back(e); }));
    return out;
}

struct Running {
    Engine engine;
    std::unique_ptr<Server> server;
};

Running run(Engine engine, std::vector<std::string> argv, std::optional<std::uint32_t> eos = {}) {
    Options o;
    auto args = parse_engine_argv(engine, argv);
    EXPECT_TRUE(args) << args.error().message;
    o.args = *args;
    o.args.port = 0;
    o.timing = *parse_fixed_timing("fixed:0,0");
    o.speed = 0;
    o.eos_after = eos;
    Running r{engine, std::make_unique<Server>(std::move(o))};
    EXPECT_TRUE(r.server->start());
    return r;
}

std::string filler_text(std::uint32_t n) {
    std::string t;
    for (std::uint32_t i = 0; i < n; ++i) t += filler_token(i);
    return t;
}

TEST(StandinApisServer, ResponsesWholeAndStreamedPerEngine) {
    for (auto& [engine, argv] : std::vector<std::pair<Engine, std::vector<std::string>>>{
             {Engine::vllm, {"serve", "m"}},
             {Engine::sglang, {"--model-path", "m"}},
             {Engine::llama_cpp, {"-m", "m"}}}) {
        const Running s = run(engine, argv);
        const std::string label(engines::to_string(engine));
        const json req = {{"model", "m"}, {"input", "one two three"}, {"max_output_tokens", 20}};
        const Reply whole = post(s.server->port(), "/v1/responses", req);
        ASSERT_EQ(whole.status, 200) << label << whole.body;
        const json doc = json::parse(whole.body);
        EXPECT_EQ(doc["object"], "response") << label;
        EXPECT_EQ(doc["status"], "completed");
        EXPECT_EQ(doc["output"][0]["content"][0]["text"], filler_text(20));
        EXPECT_EQ(doc["usage"]["input_tokens"], 3);
        EXPECT_EQ(doc["usage"]["output_tokens"], 20);
        EXPECT_EQ(doc["usage"]["total_tokens"], 23);

        json sreq = req;
        sreq["stream"] = true;
        const Reply streamed = post(s.server->port(), "/v1/responses", sreq);
        ASSERT_EQ(streamed.status, 200) << label;
        const std::vector<net::SseEvent> ev = events_of(streamed.body);
        std::vector<std::string> types;
        std::string text;
        std::int64_t next_seq = 0;
        for (const net::SseEvent& e : ev) {
            const json d = json::parse(e.data);  // no [DONE] in the Responses API
            EXPECT_EQ(e.type, d["type"]) << label;
            if (engine == Engine::llama_cpp) {
                EXPECT_FALSE(d.contains("sequence_number")) << label;
            } else {
                EXPECT_EQ(d["sequence_number"], next_seq++) << label << " " << e.data;
            }
            if (types.empty() || types.back() != e.type) types.push_back(e.type);
            if (e.type == "response.output_text.delta") text += d["delta"].get<std::string>();
            if (e.type == "response.completed") {
                EXPECT_EQ(d["response"]["usage"]["output_tokens"], 20) << label;
                EXPECT_EQ(d["response"]["usage"]["input_tokens"], 3) << label;
                // The second request reuses two of the three prompt tokens.
                EXPECT_EQ(d["response"]["usage"]["input_tokens_details"]["cached_tokens"], 2);
                EXPECT_EQ(d.contains("timings"), engine == Engine::llama_cpp) << label;
            }
        }
        EXPECT_EQ(text, filler_text(20)) << label;
        const std::vector<std::string> want = {
            "response.created",           "response.in_progress",
            "response.output_item.added", "response.content_part.added",
            "response.output_text.delta", "response.output_text.done",
            "response.content_part.done", "response.output_item.done",
            "response.completed"};
        EXPECT_EQ(types, want) << label;
    }
}

TEST(StandinApisServer, MessagesWholeAndStreamedPerEngine) {
    for (auto& [engine, argv] : std::vector<std::pair<Engine, std::vector<std::string>>>{
             {Engine::vllm, {"serve", "m"}},
             {Engine::sglang, {"--model-path", "m"}},
             {Engine::llama_cpp, {"-m", "m"}}}) {
        const Running s = run(engine, argv, 5);  // EOS after 5 tokens
        const std::string label(engines::to_string(engine));
        const json req = {{"model", "m"},
                          {"max_tokens", 3},
                          {"messages", {{{"role", "user"}, {"content", "p q r s"}}}}};
        const Reply whole = post(s.server->port(), "/v1/messages", req);
        ASSERT_EQ(whole.status, 200) << label << whole.body;
        const json doc = json::parse(whole.body);
        EXPECT_EQ(doc["type"], "message") << label;
        EXPECT_EQ(doc["role"], "assistant");
        EXPECT_EQ(doc["content"][0], (json{{"type", "text"}, {"text", filler_text(3)}}));
        EXPECT_EQ(doc["stop_reason"], "max_tokens");
        EXPECT_EQ(doc["usage"]["input_tokens"], 4);
        EXPECT_EQ(doc["usage"]["output_tokens"], 3);

        json sreq = req;
        sreq["stream"] = true;
        sreq["max_tokens"] = 50;  // the simulated EOS ends it at 5: end_turn
        const Reply streamed = post(s.server->port(), "/v1/messages", sreq);
        ASSERT_EQ(streamed.status, 200) << label;
        std::vector<std::string> types;
        std::string text;
        bool done_marker = false;
        for (const net::SseEvent& e : events_of(streamed.body)) {
            if (e.data == "[DONE]") {
                done_marker = true;
                continue;
            }
            const json d = json::parse(e.data);
            EXPECT_EQ(e.type, d["type"]) << label;
            if (types.empty() || types.back() != e.type) types.push_back(e.type);
            if (e.type == "content_block_delta") text += d["delta"]["text"].get<std::string>();
            if (e.type == "message_start") {
                // llama.cpp counts the cached prompt tokens apart; vLLM reports them all.
                const json& u = d["message"]["usage"];
                EXPECT_EQ(u["input_tokens"].get<int>() + u.value("cache_read_input_tokens", 0), 4)
                    << label;
            }
            if (e.type == "message_delta") {
                EXPECT_EQ(d["delta"]["stop_reason"], "end_turn") << label;
                EXPECT_EQ(d["usage"]["output_tokens"], 5) << label;
            }
        }
        EXPECT_EQ(text, filler_text(5)) << label;
        EXPECT_EQ(types, (std::vector<std::string>{"message_start", "content_block_start",
                                                   "content_block_delta", "content_block_stop",
                                                   "message_delta", "message_stop"}))
            << label;
        EXPECT_EQ(done_marker, engine != Engine::llama_cpp) << label;  // vLLM's trailing [DONE]
    }
}

TEST(StandinApisServer, MessagesRefusalsInTheEngineShape) {
    // Over the context: vLLM translates its error into Anthropic's shape.
    const Running v = run(Engine::vllm, {"serve", "m", "--max-model-len", "8"});
    const json over = {{"model", "m"},
                       {"max_tokens", 100},
                       {"messages", {{{"role", "user"}, {"content", "a b c"}}}}};
    Reply r = post(v.server->port(), "/v1/messages", over);
    EXPECT_EQ(r.status, 400);
    json d = json::parse(r.body);
    EXPECT_EQ(d["type"], "error") << r.body;
    EXPECT_NE(d["error"]["message"].get<std::string>().find("maximum context length is 8"),
              std::string::npos);
    // llama.cpp: its usual shape.
    const Running l = run(Engine::llama_cpp, {"-m", "m"});
    r = post(l.server->port(), "/v1/messages", json{{"model", "m"}});
    EXPECT_EQ(r.status, 500);
    d = json::parse(r.body);
    EXPECT_EQ(d["error"]["message"], "'messages' is required") << r.body;
    r = post(l.server->port(), "/v1/responses", json{{"model", "m"}, {"input", 1}});
    EXPECT_EQ(r.status, 400);
}

TEST(StandinApisServer, EmbeddingsPerEngine) {
    const json req = {{"model", "m"}, {"input", {"a b c", "d"}}};
    // llama.cpp: 501 without --embeddings; the list with it.
    {
        const Running s = run(Engine::llama_cpp, {"-m", "m"});
        const Reply r = post(s.server->port(), "/v1/embeddings", req);
        EXPECT_EQ(r.status, 501) << r.body;
        EXPECT_EQ(json::parse(r.body)["error"]["type"], "not_supported_error");
    }
    {
        const Running s = run(Engine::llama_cpp, {"-m", "m", "--embeddings"});
        const Reply r = post(s.server->port(), "/v1/embeddings", req);
        ASSERT_EQ(r.status, 200) << r.body;
        const json d = json::parse(r.body);
        EXPECT_EQ(d["object"], "list");
        EXPECT_EQ(d["usage"]["prompt_tokens"], 4);
        ASSERT_EQ(d["data"].size(), 2u);
        EXPECT_EQ(d["data"][0]["embedding"].get<std::vector<float>>(), filler_embedding("a b c"));
        const Reply empty = post(s.server->port(), "/v1/embeddings", json{{"input", " "}});
        EXPECT_EQ(empty.status, 400);
        // Generation still served.
        const Reply chat =
            post(s.server->port(), "/v1/chat/completions",
                 json{{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"max_tokens", 2}});
        EXPECT_EQ(chat.status, 200);
    }
    // vLLM serving a generative model has no embeddings route: 404 (the gateway's 501).
    {
        const Running s = run(Engine::vllm, {"serve", "m"});
        EXPECT_EQ(post(s.server->port(), "/v1/embeddings", req).status, 404);
    }
    // SGLang refuses an embedding request to a generative model: 400 in its flat shape.
    {
        const Running s = run(Engine::sglang, {"--model-path", "m"});
        const Reply r = post(s.server->port(), "/v1/embeddings", req);
        EXPECT_EQ(r.status, 400);
        const json d = json::parse(r.body);
        EXPECT_EQ(d["object"], "error");
        EXPECT_NE(d["message"].get<std::string>().find("--is-embedding"), std::string::npos);
    }
}

}  // namespace
}  // namespace sparkctl::sim::standin
