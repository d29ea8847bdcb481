// See standin_apis.h. Engine behaviours cite the engine's source: LC: ggml-org/llama.cpp (the
// 2026 tree, commit 80fb11ac), V: vllm-project/vllm (commit 048027fb for
// vllm/entrypoints/openai/api_server.py), S: sgl-project/sglang.
#include "sim/standin_apis.h"

#include <array>
#include <cmath>
#include <cstring>

#include "net/sse.h"
#include "sim/standin.h"

namespace sparkctl::sim::standin {

using engines::Engine;
using nlohmann::json;

std::optional<Api> generation_api(std::string_view path) {
    if (path == "/v1/chat/completions") return Api::chat;
    if (path == "/v1/completions") return Api::completions;
    if (path == "/v1/responses") return Api::responses;
    if (path == "/v1/messages") return Api::messages;
    return std::nullopt;
}

namespace {

RequestError invalid(Engine engine, std::string message) {
    // llama.cpp: std::invalid_argument in a handler is 400 invalid_request_error
    // (LC:tools/server/server.cpp ex_wrapper). vLLM: a body that fails the request model's
    // validation is 400 with the HTTP phrase as type (V:vllm/entrypoints/openai/api_server.py
    // validation_exception_handler; the message there is pydantic's, here the stand-in's words).
    // SGLang: 400 BadRequestError.
    return {400, std::move(message),
            engine == Engine::llama_cpp ? "invalid_request_error"
            : engine == Engine::vllm    ? "Bad Request"
                                        : "BadRequestError",
            json::object()};
}

// The text of a message's content: a string, or an array of parts with string "text" (OpenAI's
// input_text/output_text, Anthropic's text blocks).
std::optional<std::string> content_text(const json& content) {
    if (content.is_string()) return content.get<std::string>();
    if (!content.is_array()) return std::nullopt;
    std::string out;
    for (const json& part : content) {
        if (!part.is_object()) return std::nullopt;
        auto t = part.find("text");
        if (t != part.end() && t->is_string()) out += t->get<std::string>() + "\n";
    }
    return out;
}

std::string sse(const json& data) {
    return net::sse_event(data.dump(), data.at("type").get<std::string>());
}

// OpenAI's Response usage (openai.types.responses.ResponseUsage, which vLLM's ResponsesResponse
// uses); llama.cpp writes input_tokens_details only (LC:tools/server/server-task.cpp
// to_json_oaicompat_resp).
json response_usage(const ApiReply& r) {
    json u = {{"input_tokens", r.prompt_tokens},
              {"output_tokens", r.produced},
              {"total_tokens", r.prompt_tokens + r.produced},
              {"input_tokens_details", {{"cached_tokens", r.cached_tokens}}}};
    if (r.engine != Engine::llama_cpp) u["output_tokens_details"] = {{"reasoning_tokens", 0}};
    return u;
}

std::string message_item_id(const ApiReply& r) { return "msg_" + r.id.substr(r.id.find('_') + 1); }

json output_text_part(const std::string& text) {
    return {{"type", "output_text"},
            {"annotations", json::array()},
            {"logprobs", json::array()},
            {"text", text}};
}

json message_item(const ApiReply& r, bool done) {
    return {{"id", message_item_id(r)},
            {"type", "message"},
            {"role", "assistant"},
            {"status", done ? "completed" : "in_progress"},
            {"content", done ? json::array({output_text_part(r.text)}) : json::array()}};
}

// The Response object. llama.cpp: LC:tools/server/server-task.cpp to_json_oaicompat_resp; vLLM:
// V:vllm/entrypoints/openai/responses/protocol.py ResponsesResponse (openai's Response fields).
json response_object(const ApiReply& r, bool done) {
    json o = {{"id", r.id},
              {"object", "response"},
              {"created_at", r.created},
              {"model", r.model},
              {"status", done ? "completed" : "in_progress"},
              {"output", done ? json::array({message_item(r, true)}) : json::array()}};
    if (done) o["usage"] = response_usage(r);
    if (done && r.engine == Engine::llama_cpp) o["completed_at"] = r.created;
    return o;
}

// Anthropic's stop_reason: "end_turn" at EOS, "max_tokens" at the limit (LC:tools/server/
// server-task.cpp to_json_anthropic; V:vllm/entrypoints/anthropic/serving.py stop_reason_map).
const char* stop_reason(const ApiReply& r) { return r.stopped ? "end_turn" : "max_tokens"; }

// Anthropic's usage: llama.cpp counts cached prompt tokens apart (input_tokens excludes them,
// cache_read_input_tokens); vLLM reports prompt_tokens as input_tokens.
json messages_usage(const ApiReply& r, std::uint64_t output_tokens) {
    if (r.engine == Engine::llama_cpp) {
        return {{"cache_read_input_tokens", r.cached_tokens},
                {"input_tokens", r.prompt_tokens - r.cached_tokens},
                {"output_tokens", output_tokens}};
    }
    return {{"input_tokens", r.prompt_tokens}, {"output_tokens", output_tokens}};
}

}  // namespace

std::variant<ApiRequest, RequestError> read_api_request(Engine engine, Api api, const json& body) {
    ApiRequest out;
    out.limits_body = body;
    if (api == Api::responses) {
        // LC:tools/server/server-chat.cpp server_chat_convert_responses_to_chatcmpl: "'input' is
        // required", a string or an array of objects, instructions as the system message,
        // max_output_tokens as max_tokens. vLLM: ResponsesRequest.input is required.
        auto input = body.find("input");
        if (input == body.end()) return invalid(engine, "'input' is required");
        if (auto ins = body.find("instructions"); ins != body.end() && ins->is_string()) {
            out.prompt = ins->get<std::string>() + "\n";
        }
        if (input->is_string()) {
            out.prompt += input->get<std::string>();
        } else if (input->is_array()) {
            for (const json& item : *input) {
                if (!item.is_object()) {
                    return invalid(engine, "'input' must be a string or array of objects");
                }
                if (auto c = item.find("content"); c != item.end()) {
                    auto text = content_text(*c);
                    if (!text) return invalid(engine, "item['content'] is not an array");
                    out.prompt += *text + "\n";
                }
            }
        } else {
            return invalid(engine, "'input' must be a string or array of objects");
        }
        if (auto m = body.find("max_output_tokens"); m != body.end()) {
            out.limits_body["max_tokens"] = *m;
            out.limits_body.erase("max_output_tokens");
        }
        out.limits_body.erase("max_completion_tokens");
        return out;
    }
    // Messages. LC:tools/server/server-chat.cpp server_chat_convert_anthropic_to_oai: the system
    // prompt (a string or text blocks), "'messages' is required" (a std::runtime_error there:
    // 500 server_error), max_tokens 4096 when absent ("required in Anthropic, but we're
    // permissive"). vLLM: AnthropicMessagesRequest requires messages and max_tokens
    // (V:vllm/entrypoints/anthropic/protocol.py).
    if (auto sys = body.find("system"); sys != body.end()) {
        if (auto text = content_text(*sys)) out.prompt = *text + "\n";
    }
    auto messages = body.find("messages");
    if (messages == body.end()) {
        if (engine == Engine::llama_cpp) {
            return RequestError{500, "'messages' is required", "server_error", json::object()};
        }
        return invalid(engine, "'messages' is required");
    }
    if (!messages->is_array()) return invalid(engine, "'messages' must be an array");
    for (const json& m : *messages) {
        if (!m.is_object()) return invalid(engine, "each message must be an object");
        if (auto c = m.find("content"); c != m.end()) {
            auto text = content_text(*c);
            if (!text) return invalid(engine, "'content' must be a string or an array of blocks");
            out.prompt += *text + "\n";
        }
    }
    if (!body.contains("max_tokens")) {
        if (engine != Engine::llama_cpp) return invalid(engine, "'max_tokens' is required");
        out.limits_body["max_tokens"] = 4096;
    }
    out.limits_body.erase("max_completion_tokens");
    return out;
}

json api_document(Api api, const ApiReply& r) {
    if (api == Api::responses) return response_object(r, true);
    // LC:tools/server/server-task.cpp to_json_anthropic; V:vllm/entrypoints/anthropic/serving.py
    // messages_full_converter, dumped with exclude_none (no stop_sequence).
    json m = {{"id", r.id},
              {"type", "message"},
              {"role", "assistant"},
              {"model", r.model},
              {"content", json::array({{{"type", "text"}, {"text", r.text}}})},
              {"stop_reason", stop_reason(r)},
              {"usage", messages_usage(r, r.produced)}};
    if (r.engine == Engine::llama_cpp) m["stop_sequence"] = nullptr;
    return m;
}

std::string api_stream_open(Api api, const ApiReply& r, std::uint64_t& seq) {
    // vLLM sends response.created and response.in_progress before generating
    // (V:vllm/entrypoints/openai/responses/serving.py responses_stream_generator); llama.cpp with
    // the first token (LC:tools/server/server-task.cpp server_task_result_cmpl_partial
    // ::to_json_oaicompat_resp, !oai_resp_created). Messages open with the first token on both.
    if (api != Api::responses || r.engine == Engine::llama_cpp) return {};
    std::string out;
    for (const char* type : {"response.created", "response.in_progress"}) {
        out += sse(
            {{"type", type}, {"sequence_number", seq++}, {"response", response_object(r, false)}});
    }
    return out;
}

std::string api_stream_token(Api api, const ApiReply& r, std::string_view token,
                             std::uint64_t& seq) {
    const bool first = r.produced == 0;
    const std::string tok(token);
    std::string out;
    const bool llama = r.engine == Engine::llama_cpp;
    if (api == Api::responses) {
        const std::string item = message_item_id(r);
        auto event = [&](json e) {
            if (!llama) {
                e["sequence_number"] = seq++;
                e["output_index"] = 0;
            }
            out += sse(e);
        };
        if (first && llama) {
            // llama.cpp's created and in_progress carry {id, object, status} only.
            for (const char* type : {"response.created", "response.in_progress"}) {
                out += sse({{"type", type},
                            {"response",
                             {{"id", r.id}, {"object", "response"}, {"status", "in_progress"}}}});
            }
        }
        if (first) {
            event({{"type", "response.output_item.added"}, {"item", message_item(r, false)}});
            json part = {{"type", "output_text"}, {"text", ""}};
            if (!llama) part["annotations"] = json::array();
            json added = {
                {"type", "response.content_part.added"}, {"item_id", item}, {"part", part}};
            if (!llama) added["content_index"] = 0;
            event(std::move(added));
        }
        json delta = {{"type", "response.output_text.delta"}, {"item_id", item}, {"delta", tok}};
        if (!llama) {
            delta["content_index"] = 0;
            delta["logprobs"] = json::array();
        }
        event(std::move(delta));
        return out;
    }
    // Messages: LC:tools/server/server-task.cpp server_task_result_cmpl_partial::to_json_anthropic
    // (message_start when n_decoded == 1); V:vllm/entrypoints/anthropic/serving.py
    // message_stream_converter (message_start at the first chunk, dumped exclude_unset: no
    // type/role in the message).
    if (first) {
        json msg = {{"id", r.id},
                    {"content", json::array()},
                    {"model", r.model},
                    {"stop_reason", nullptr},
                    {"stop_sequence", nullptr},
                    {"usage", messages_usage(r, 0)}};
        if (llama) {
            msg["type"] = "message";
            msg["role"] = "assistant";
        }
        out += sse({{"type", "message_start"}, {"message", msg}});
        out += sse({{"type", "content_block_start"},
                    {"index", 0},
                    {"content_block", {{"type", "text"}, {"text", ""}}}});
    }
    out += sse({{"type", "content_block_delta"},
                {"index", 0},
                {"delta", {{"type", "text_delta"}, {"text", tok}}}});
    return out;
}

std::string api_stream_close(Api api, const ApiReply& r, std::uint64_t& seq, const json& timings) {
    const bool llama = r.engine == Engine::llama_cpp;
    std::string out;
    if (api == Api::responses) {
        // LC:tools/server/server-task.cpp to_json_oaicompat_resp_stream: output_text.done,
        // content_part.done, output_item.done, response.completed (timings on it); vLLM the same
        // sequence of openai event types, numbered. Neither ends with [DONE].
        const std::string item = message_item_id(r);
        auto event = [&](json e) {
            if (!llama) {
                e["sequence_number"] = seq++;
                if (e["type"] != "response.completed") e["output_index"] = 0;
            }
            out += sse(e);
        };
        if (r.produced > 0) {
            json text_done = {
                {"type", "response.output_text.done"}, {"item_id", item}, {"text", r.text}};
            json part_done = {{"type", "response.content_part.done"},
                              {"item_id", item},
                              {"part", output_text_part(r.text)}};
            if (!llama) {
                text_done["content_index"] = 0;
                text_done["logprobs"] = json::array();
                part_done["content_index"] = 0;
            }
            event(std::move(text_done));
            event(std::move(part_done));
            event({{"type", "response.output_item.done"}, {"item", message_item(r, true)}});
        }
        json completed = {{"type", "response.completed"}, {"response", response_object(r, true)}};
        if (llama && !timings.is_null()) completed["timings"] = timings;
        event(std::move(completed));
        return out;
    }
    // Messages: content_block_stop, message_delta (llama.cpp: output_tokens only; vLLM: input and
    // output tokens), message_stop; vLLM then "data: [DONE]".
    if (r.produced > 0) out += sse({{"type", "content_block_stop"}, {"index", 0}});
    json delta = {{"stop_reason", stop_reason(r)}};
    json usage = messages_usage(r, r.produced);
    if (llama) {
        delta["stop_sequence"] = nullptr;
        usage = {{"output_tokens", r.produced}};
    }
    out += sse({{"type", "message_delta"}, {"delta", delta}, {"usage", usage}});
    out += sse({{"type", "message_stop"}});
    if (!llama) out += net::sse_event("[DONE]");
    return out;
}

std::optional<json> messages_error(Engine engine, const std::string& message,
                                   const std::string& type) {
    // V:vllm/entrypoints/anthropic/api_router.py translate_error_response (AnthropicErrorResponse).
    if (engine == Engine::llama_cpp) return std::nullopt;
    return json{{"type", "error"}, {"error", {{"type", type}, {"message", message}}}};
}

std::vector<float> filler_embedding(std::string_view text) {
    // FNV-1a 64 of the text, then splitmix64 per dimension (the stand-in's own choice).
    std::uint64_t h = 14695981039346656037ull;
    for (const char c : text) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    std::vector<float> v(kEmbeddingDims);
    double norm = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
        std::uint64_t z = h + 0x9e3779b97f4a7c15ull * (i + 1);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        const double x = double(z >> 11) / double(1ull << 53) * 2 - 1;  // [-1, 1)
        v[i] = static_cast<float>(x);
        norm += x * x;
    }
    norm = std::sqrt(norm);
    for (float& x : v) x = static_cast<float>(x / norm);
    return v;
}

std::string base64_floats(const std::vector<float>& values) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string bytes;
    bytes.reserve(values.size() * 4);
    for (const float f : values) {
        std::uint32_t u = 0;
        std::memcpy(&u, &f, 4);
        for (int k = 0; k < 4; ++k) bytes.push_back(static_cast<char>((u >> (8 * k)) & 0xff));
    }
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
        std::uint32_t chunk = 0;
        for (std::size_t k = 0; k < 3; ++k) {
            chunk <<= 8;
            if (k < n) chunk |= static_cast<unsigned char>(bytes[i + k]);
        }
        for (std::size_t k = 0; k < 4; ++k) {
            out.push_back(k <= n ? kAlphabet[(chunk >> (18 - 6 * k)) & 0x3f] : '=');
        }
    }
    return out;
}

std::variant<json, RequestError> embeddings_document(const json& body, const std::string& model,
                                                     std::uint32_t& prompt_tokens) {
    // LC:tools/server/server-context.cpp handle_embeddings_impl and server-common.cpp
    // format_embeddings_response_oaicompat.
    auto bad = [](std::string message) {
        return RequestError{400, std::move(message), "invalid_request_error", json::object()};
    };
    auto input = body.find("input");
    if (input == body.end()) return bad("\"input\" or \"content\" must be provided");
    bool base64 = false;
    if (auto f = body.find("encoding_format"); f != body.end()) {
        if (*f == "base64") {
            base64 = true;
        } else if (*f != "float") {
            return bad("The format to return the embeddings in. Can be either float or base64");
        }
    }
    std::vector<std::string> texts;
    if (input->is_string()) {
        texts.push_back(input->get<std::string>());
    } else if (input->is_array()) {
        for (const json& t : *input) {
            if (!t.is_string()) return bad("\"input\" must be a string or an array of strings");
            texts.push_back(t.get<std::string>());
        }
    } else {
        return bad("\"input\" must be a string or an array of strings");
    }
    json data = json::array();
    prompt_tokens = 0;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        const std::uint32_t n = count_tokens(texts[i]);
        // "this check is necessary for models that do not add BOS token to the input"
        if (n == 0) return bad("Input content cannot be empty");
        prompt_tokens += n;
        const std::vector<float> e = filler_embedding(texts[i]);
        json obj = {{"index", i}, {"object", "embedding"}};
        if (base64) {
            obj["embedding"] = base64_floats(e);
            obj["encoding_format"] = "base64";
        } else {
            obj["embedding"] = e;
        }
        data.push_back(std::move(obj));
    }
    const json& named = body.value("model", json());
    return json{{"model", named.is_string() ? named.get<std::string>() : model},
                {"object", "list"},
                {"usage", {{"prompt_tokens", prompt_tokens}, {"total_tokens", prompt_tokens}}},
                {"data", std::move(data)}};
}

}  // namespace sparkctl::sim::standin
