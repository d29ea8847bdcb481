// See standin_request.h. Engine behaviours cite the engine's source: LC:
// github.com/ggml-org/llama.cpp, V: vllm-project/vllm, S: sgl-project/sglang.
#include "sim/standin_request.h"

#include <algorithm>

#include <fmt/format.h>

namespace sparkctl::sim::standin {

using engines::Engine;
using nlohmann::json;

std::variant<Limits, RequestError> request_limits(Engine engine, const json& body, bool chat,
                                                  std::uint64_t context,
                                                  std::uint32_t prompt_tokens,
                                                  std::optional<std::uint32_t> eos_after) {
    const std::uint64_t ctx = context;
    Limits out;
    auto bad_request = [&](std::string message) -> RequestError {
        // vLLM and SGLang: err_type "BadRequestError" (create_error_response's default).
        return {400, std::move(message),
                engine == Engine::llama_cpp ? "invalid_request_error" : "BadRequestError",
                json::object()};
    };
    // llama.cpp reads n_predict, an alias of max_tokens that wins over it
    // (LC:tools/server/server-schema.cpp field "n_predict" add_alias("max_tokens");
    // server-common.cpp: "if "n_predict" is present, we overwrite ... max_tokens").
    const json none;
    const json& mt = engine == Engine::llama_cpp && body.contains("n_predict") ? body["n_predict"]
                     : body.contains("max_completion_tokens") ? body["max_completion_tokens"]
                                                              : body.value("max_tokens", none);
    std::optional<std::uint64_t> asked;
    if (mt.is_number_unsigned()) {
        asked = mt.get<std::uint64_t>();
    } else if (mt.is_number_integer() && mt.get<std::int64_t>() >= 0) {
        asked = static_cast<std::uint64_t>(mt.get<std::int64_t>());
    } else if (!mt.is_null() && !(engine == Engine::llama_cpp && mt == -1)) {
        return bad_request("'max_tokens' must be a non-negative integer");
    }
    // ignore_eos (all three) and min_tokens (vLLM and SGLang) as the engines read them:
    // V:vllm/entrypoints/openai/protocol.py ChatCompletionRequest/CompletionRequest extra
    // sampling params (`ignore_eos: bool = False`, `min_tokens: int = 0`);
    // S:python/sglang/srt/entrypoints/openai/protocol.py (`min_tokens: int = 0`,
    // `ignore_eos: bool = False`, passed on as min_new_tokens); LC:tools/server/server-schema.cpp
    // field_bool "ignore_eos" (llama.cpp has no min_tokens: the field is ignored there).
    const json& ie = body.value("ignore_eos", none);
    if (!ie.is_null() && !ie.is_boolean()) {
        return bad_request("'ignore_eos' must be a boolean");
    }
    out.ignore_eos = ie.is_boolean() && ie.get<bool>();
    if (engine != Engine::llama_cpp) {
        const json& mn = body.value("min_tokens", none);
        if (!mn.is_null() && !mn.is_number_integer()) {
            return bad_request("'min_tokens' must be an integer");
        }
        const std::int64_t min_tokens = mn.is_null() ? 0 : mn.get<std::int64_t>();
        if (min_tokens < 0) {
            // V:vllm/sampling_params.py SamplingParams._verify_args; S:python/sglang/srt/
            // sampling/sampling_params.py SamplingParams.verify.
            return bad_request(
                engine == Engine::vllm
                    ? fmt::format("min_tokens must be greater than or equal to 0, got {}.",
                                  min_tokens)
                    : fmt::format("min_new_tokens must be in [0, max_new_tokens], got {}.",
                                  min_tokens));
        }
        out.min_tokens = static_cast<std::uint64_t>(min_tokens);
    }
    const std::uint64_t n_prompt = prompt_tokens;
    if (ctx && n_prompt >= ctx) {
        // The prompt alone fills the context.
        switch (engine) {
            case Engine::vllm:
                // V:vllm/entrypoints/openai/serving_engine.py _validate_input, raised as
                // VLLMValidationError, whose str() appends "(parameter=..., value=...)"
                // (V:vllm/exceptions.py VLLMValidationError.__str__).
                return bad_request(fmt::format(
                    "This model's maximum context length is {} tokens. However, your request has "
                    "{} input tokens. Please reduce the length of the input messages. "
                    "(parameter=input_tokens, value={})",
                    ctx, n_prompt, n_prompt));
            case Engine::sglang:
                // S:python/sglang/srt/managers/tokenizer_manager.py _validate_one_request.
                return bad_request(
                    fmt::format("The input ({} tokens) is longer than the model's context "
                                "length ({} tokens).",
                                n_prompt, ctx));
            case Engine::llama_cpp:
                // LC:tools/server/server-context.cpp (n_tokens >= n_ctx of the slot),
                // ERROR_TYPE_EXCEED_CONTEXT_SIZE with n_prompt_tokens and n_ctx
                // (server-task.cpp server_task_result_error::to_json).
                return RequestError{400,
                                    fmt::format("request ({} tokens) exceeds the available "
                                                "context size ({} tokens), try increasing it",
                                                n_prompt, ctx),
                                    "exceed_context_size_error",
                                    {{"n_prompt_tokens", n_prompt}, {"n_ctx", ctx}}};
        }
    }
    if (ctx && asked && engine == Engine::vllm && *asked > ctx - n_prompt) {
        // V:vllm/entrypoints/openai/serving_engine.py _validate_input.
        return bad_request(
            fmt::format("'max_tokens' or 'max_completion_tokens' is too large: {}. This "
                        "model's maximum context length is {} tokens and your request has "
                        "{} input tokens ({} > {} - {}). (parameter=max_tokens, value={})",
                        *asked, ctx, n_prompt, *asked, ctx, n_prompt, *asked));
    }
    if (ctx && asked && engine == Engine::sglang && *asked + n_prompt >= ctx) {
        // S:python/sglang/srt/managers/tokenizer_manager.py _validate_one_request.
        return bad_request(fmt::format(
            "Requested token count exceeds the model's maximum context length of {} tokens. You "
            "requested a total of {} tokens: {} tokens from the input messages and {} tokens for "
            "the completion. Please reduce the number of tokens in the input messages or the "
            "completion to fit within the limit.",
            ctx, *asked + n_prompt, n_prompt, *asked));
    }
    // Without a limit: vLLM and SGLang chat and llama.cpp generate to the end of the context;
    // vLLM and SGLang completions stop at 16 (V:vllm/entrypoints/openai/protocol.py
    // CompletionRequest `max_tokens: Optional[int] = 16`; S: CompletionRequest `max_tokens: int =
    // 16`). Past the context, generation ends there.
    const std::uint64_t room = ctx ? ctx - n_prompt : 256;
    std::uint64_t max_tokens = asked.value_or(!chat && engine != Engine::llama_cpp ? 16 : room);
    max_tokens = std::min(max_tokens, room);
    if (out.min_tokens > max_tokens) {
        return bad_request(
            engine == Engine::vllm
                ? fmt::format("min_tokens must be less than or equal to max_tokens={}, "
                              "got {}.",
                              max_tokens, out.min_tokens)
                : fmt::format("min_new_tokens must be in [0, max_new_tokens({})], got {}.",
                              max_tokens, out.min_tokens));
    }
    out.max_tokens = static_cast<std::uint32_t>(std::min<std::uint64_t>(max_tokens, 1u << 24));
    // The simulated model's end of sequence (--eos-after): honoured unless ignore_eos, never
    // before min_tokens; a response that ends there finishes with "stop".
    out.produce = out.max_tokens;
    if (eos_after && !out.ignore_eos) {
        const std::uint64_t natural = std::max<std::uint64_t>(*eos_after, out.min_tokens);
        if (natural < out.max_tokens) out.produce = static_cast<std::uint32_t>(natural);
    }
    return out;
}

}  // namespace sparkctl::sim::standin
