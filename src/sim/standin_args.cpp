// The stand-in engine's command line, fixed timing and filler text: see standin.h. Engine
// behaviours cite the engine's source: LC: github.com/ggml-org/llama.cpp, V: vllm-project/vllm,
// S: sgl-project/sglang.
#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <fmt/format.h>

#include "base/strings.h"
#include "engines/versions.h"
#include "sim/standin.h"

namespace sparkctl::sim::standin {

using engines::Engine;
std::uint16_t default_port(Engine engine) {
    switch (engine) {
        case Engine::vllm:
            return 8000;
        case Engine::sglang:
            return 30000;
        case Engine::llama_cpp:
            return 8080;
    }
    return 8000;
}

namespace {

base::Error bad(std::string message) {
    return base::make_error(base::Errc::bad_input, std::move(message));
}

bool is_flag(const std::string& s) {
    return s.size() > 1 && s[0] == '-' && !(std::isdigit(static_cast<unsigned char>(s[1])) != 0);
}

base::Result<std::uint64_t> number(const std::string& flag, const std::string& value) {
    auto v = base::parse_u64(value);
    if (!v) return bad(flag + ": '" + base::printable(value) + "': expected a whole number");
    return *v;
}

}  // namespace

base::Result<EngineArgs> parse_engine_argv(Engine engine, const std::vector<std::string>& argv) {
    EngineArgs out;
    out.engine = engine;
    out.port = default_port(engine);
    out.metrics_endpoint = engine != Engine::llama_cpp;
    const engines::EngineVersion& version = engines::default_version(engine);
    std::size_t i = 0;
    // Skip what launches the engine: "vllm serve", "python3 -m sglang.launch_server",
    // "llama-server", with or without the executable.
    auto skip = [&](std::string_view s) {
        if (i < argv.size() && argv[i] == s) ++i;
    };
    switch (engine) {
        case Engine::vllm:
            skip("vllm");
            skip("serve");
            break;
        case Engine::sglang:
            skip("python3");
            skip("python");
            skip("-m");
            skip("sglang.launch_server");
            break;
        case Engine::llama_cpp:
            skip("llama-server");
            break;
    }
    std::vector<std::string> positionals;
    for (; i < argv.size(); ++i) {
        std::string flag = argv[i];
        if (!is_flag(flag)) {
            positionals.push_back(flag);
            continue;
        }
        std::optional<std::string> value;
        if (auto eq = flag.find('='); eq != std::string::npos && flag.rfind("--", 0) == 0) {
            value = flag.substr(eq + 1);
            flag.resize(eq);
        }
        const std::optional<bool> takes = engines::flag_takes_value(version, flag);
        if (!takes) {
            return bad(fmt::format("{} {}: unknown flag '{}'", engines::to_string(engine),
                                   version.name, base::printable(flag)));
        }
        if (*takes && !value) {
            if (i + 1 >= argv.size()) {
                return bad(fmt::format("{}: expects a value", base::printable(flag)));
            }
            value = argv[++i];
        }
        const std::string v = value.value_or("");
        auto any = [&](std::initializer_list<std::string_view> names) {
            return std::find(names.begin(), names.end(), flag) != names.end();
        };
        if (any({"--host"})) {
            out.host = v;
        } else if (any({"--port"})) {
            auto n = number(flag, v);
            if (!n) return n.error();
            if (*n > 65535) return bad("--port: '" + v + "': above 65535");
            out.port = static_cast<std::uint16_t>(*n);
        } else if (any({"--model", "--model-path", "-m", "-hf", "--hf-repo"})) {
            out.model = v;
        } else if (any({"--served-model-name", "-a", "--alias"})) {
            out.served_model_name = v;
        } else if (any({"--max-model-len", "--context-length", "-c", "--ctx-size"})) {
            auto n = number(flag, v);
            if (!n) return n.error();
            out.context = *n;
        } else if (any({"--max-num-seqs", "--max-running-requests", "-np", "--parallel"})) {
            auto n = number(flag, v);
            if (!n) return n.error();
            if (*n == 0 || *n > (1u << 20)) return bad(flag + ": '" + v + "': out of range");
            out.max_seqs = static_cast<std::uint32_t>(*n);
        } else if (any({"--enable-prefix-caching"})) {
            out.prefix_caching = true;
        } else if (any({"--no-enable-prefix-caching", "--disable-radix-cache",
                        "--no-cache-prompt"})) {
            out.prefix_caching = false;
        } else if (any({"--api-key"})) {
            out.api_key = v;
        } else if (any({"--enable-prompt-tokens-details", "--enable-cache-report"})) {
            out.report_cached_tokens = true;
        } else if (engine == Engine::llama_cpp && any({"--metrics"})) {
            out.metrics_endpoint = true;
        } else if (engine == Engine::llama_cpp && any({"--slots", "--no-slots"})) {
            out.slots_endpoint = flag == "--slots";
        } else if (engine == Engine::llama_cpp && any({"--embedding", "--embeddings"})) {
            out.embeddings = true;
        }
    }
    if (engine == Engine::vllm && !positionals.empty() && out.model.empty()) {
        out.model = positionals.front();  // `vllm serve MODEL` (V:vllm/entrypoints/cli/serve.py)
    } else if (!positionals.empty()) {
        return bad(fmt::format("{}: unexpected argument '{}'", engines::to_string(engine),
                               base::printable(positionals.front())));
    }
    if (out.model.empty()) {
        return bad(fmt::format("{}: no model given (--model)", engines::to_string(engine)));
    }
    if (out.served_model_name.empty()) out.served_model_name = out.model;
    // llama.cpp splits -c among the -np slots: n_ctx_slot = n_ctx / n_parallel
    // (LC:tools/server/server.cpp, load_model). Default -np 1 (LC:common/common.h n_parallel).
    if (engine == Engine::llama_cpp) {
        // usage always carries prompt_tokens_details (LC:tools/server/server-task.cpp
        // usage_json_oaicompat).
        out.report_cached_tokens = true;
        if (out.max_seqs == 0) out.max_seqs = 1;
        if (out.context) out.context /= out.max_seqs;
    }
    return out;
}

base::Result<Timing> parse_fixed_timing(std::string_view text) {
    const std::string t(text);
    auto fail = [&] {
        return bad("--timing: '" + base::printable(t) + "': expected fixed:TTFT_MS,ITL_MS");
    };
    if (t.rfind("fixed:", 0) != 0) return fail();
    const auto comma = t.find(',', 6);
    if (comma == std::string::npos) return fail();
    char* end = nullptr;
    const std::string a = t.substr(6, comma - 6), b = t.substr(comma + 1);
    const double ttft = std::strtod(a.c_str(), &end);
    if (a.empty() || *end != '\0' || !(ttft >= 0) || ttft > 1e9) return fail();
    const double itl = std::strtod(b.c_str(), &end);
    if (b.empty() || *end != '\0' || !(itl >= 0) || itl > 1e9) return fail();
    Timing out;
    out.ttft_ms = [ttft](std::uint32_t, std::uint32_t, std::uint32_t) { return ttft; };
    out.itl_ms = [itl](std::uint32_t, std::uint64_t) { return itl; };
    out.prefill_ms = [ttft](std::uint32_t) { return ttft; };
    return out;
}

std::uint32_t count_tokens(std::string_view text) {
    std::uint32_t n = 0;
    bool in_word = false;
    for (char c : text) {
        const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
        if (!space && !in_word) ++n;
        in_word = !space;
    }
    return n;
}

std::string filler_token(std::uint64_t i) {
    static constexpr const char* kWords[] = {"The",  "stand-in", "engine", "writes", "simulated",
                                             "text", "for",      "load",   "tests",  "only."};
    const char* w = kWords[i % std::size(kWords)];
    return i == 0 ? std::string(w) : std::string(" ") + w;
}

}  // namespace sparkctl::sim::standin
