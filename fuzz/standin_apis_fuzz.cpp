// libFuzzer target: the stand-in's readers of Responses, Messages and embeddings request bodies
// (src/sim/standin_apis.h) on hostile JSON, for each engine, and the documents and stream events
// built from what they accept. Besides "no crash": an accepted body gives a limits body that is
// an object; an embeddings document has one kEmbeddingDims-float vector (or its base64, 4/3 of
// the bytes) per input and counts at least one token per input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "sim/standin.h"
#include "sim/standin_apis.h"
#include "sim/standin_request.h"

using namespace sparkctl::sim::standin;
using nlohmann::json;
using sparkctl::engines::Engine;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const json body = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!body.is_object()) return 0;
    for (const Engine engine : {Engine::vllm, Engine::sglang, Engine::llama_cpp}) {
        for (const Api api : {Api::responses, Api::messages}) {
            auto read = read_api_request(engine, api, body);
            if (std::holds_alternative<RequestError>(read)) continue;
            const ApiRequest& a = std::get<ApiRequest>(read);
            if (!a.limits_body.is_object()) std::abort();
            const std::uint32_t prompt = count_tokens(a.prompt);
            auto limits = request_limits(engine, a.limits_body, true, 4096, prompt, 5);
            if (std::holds_alternative<RequestError>(limits)) continue;
            const Limits& l = std::get<Limits>(limits);
            ApiReply r{engine, "resp_sim-0", "m", 0, prompt, 0, 0, l.produce < l.max_tokens, {}};
            std::uint64_t seq = 0;
            std::string events = api_stream_open(api, r, seq);
            for (std::uint64_t i = 0; i < std::min<std::uint32_t>(l.produce, 3); ++i) {
                r.produced = i;
                events += api_stream_token(api, r, filler_token(i), seq);
                r.text += filler_token(i);
            }
            events += api_stream_close(api, r, seq, json());
            if (events.empty() || !api_document(api, r).is_object()) std::abort();
        }
    }
    std::uint32_t tokens = 0;
    auto doc = embeddings_document(body, "m", tokens);
    if (const json* d = std::get_if<json>(&doc)) {
        const json& items = (*d)["data"];
        const json& input = body["input"];
        const std::size_t n = input.is_array() ? input.size() : 1;
        if (items.size() != n || tokens < n) std::abort();
        for (const json& e : items) {
            const json& v = e["embedding"];
            if (v.is_array() ? v.size() != kEmbeddingDims
                             : v.get<std::string>().size() != (kEmbeddingDims * 4 + 2) / 3 * 4) {
                std::abort();
            }
        }
    }
    return 0;
}
