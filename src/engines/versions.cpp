#include "engines/versions.h"

#include <map>
#include <set>

#include "base/assert.h"
#include "base/strings.h"

extern const char sparkctl_flags_llamacpp_2026[];
extern const unsigned long sparkctl_flags_llamacpp_2026_size;
extern const char sparkctl_flags_llamacpp_b6845[];
extern const unsigned long sparkctl_flags_llamacpp_b6845_size;
extern const char sparkctl_flags_llamacpp_b7324[];
extern const unsigned long sparkctl_flags_llamacpp_b7324_size;
extern const char sparkctl_flags_vllm_ngc_26_05[];
extern const unsigned long sparkctl_flags_vllm_ngc_26_05_size;
extern const char sparkctl_flags_vllm_0_11[];
extern const unsigned long sparkctl_flags_vllm_0_11_size;
extern const char sparkctl_flags_sglang_latest_cu130[];
extern const unsigned long sparkctl_flags_sglang_latest_cu130_size;
extern const char sparkctl_values_vllm_ngc_26_05[];
extern const unsigned long sparkctl_values_vllm_ngc_26_05_size;
extern const char sparkctl_values_sglang_latest_cu130[];
extern const unsigned long sparkctl_values_sglang_latest_cu130_size;
extern const char sparkctl_archs_llamacpp_2026[];
extern const unsigned long sparkctl_archs_llamacpp_2026_size;

namespace sparkctl::engines {

namespace {

constexpr const char* kPlaybooks = "NVIDIA/dgx-spark-playbooks 0db7c14";

// name -> takes a value ("yes"), from a data/engines/*.tsv table.
using FlagTable = std::map<std::string, bool, std::less<>>;

// The rows of a data/engines/*.tsv table: tab-separated columns, '#' lines are comments. The
// data is ours: a short row is a bug (engines_test loads every table).
std::vector<std::vector<std::string>> rows_of(std::string_view text, std::size_t min_cols) {
    std::vector<std::vector<std::string>> out;
    for (const std::string& line : base::split(text, '\n')) {
        if (line.empty() || line[0] == '#') continue;
        out.push_back(base::split(line, '\t'));
        SPARKCTL_ASSERT(out.back().size() >= min_cols);
    }
    return out;
}

FlagTable parse_table(std::string_view text) {
    FlagTable out;
    for (const auto& cols : rows_of(text, 2)) out[cols[0]] = cols[1] == "yes";
    return out;
}

// flag -> the values it accepts, from a data/engines/*.values.tsv table (parser names and closed
// choice lists); a flag absent here is not checked.
using ValueTable = std::map<std::string, std::set<std::string, std::less<>>, std::less<>>;

ValueTable parse_values(std::string_view text) {
    ValueTable out;
    for (const auto& cols : rows_of(text, 2)) out[cols[0]].insert(cols[1]);
    return out;
}

struct Registry {
    std::vector<EngineVersion> versions;
    std::vector<FlagTable> flags;    // parallel to versions
    std::vector<ValueTable> values;  // parallel to versions
    std::set<std::string, std::less<>> llamacpp_archs;
};

const Registry& registry() {
    static const Registry r = [] {
        Registry reg;
        auto add = [&](EngineVersion v, const char* data, unsigned long size,
                       std::string_view values = {}) {
            reg.versions.push_back(std::move(v));
            reg.flags.push_back(parse_table(std::string_view(data, size)));
            reg.values.push_back(parse_values(values));
        };
        // Its build number is unknown; 10621 is a lower bound: ggml-org's llama-server reported
        // "version: 0.3.0-dev (build 10621, commit c1d0e7a00)" on 2026-08-25
        // (https://github.com/lemonade-sdk/lemonade/issues/3342) and this tree is of 2026-09-12.
        add({Engine::llama_cpp, "2026",
             "llama.cpp tree of node-llama-cpp 3.21.1 (release v0.4.0, build-info 80fb11a), "
             "built from source as the playbook does",
             std::string(kPlaybooks) + " nvidia/llama-cpp/README.md (builds ggml-org/llama.cpp "
                                       "with -DCMAKE_CUDA_ARCHITECTURES=121a-real)",
             "", "no official llama.cpp image in the playbooks: native build", "extracted",
             "80fb11a", true, "10621", "all"},
            sparkctl_flags_llamacpp_2026, sparkctl_flags_llamacpp_2026_size);
        // Numbered llama.cpp releases, from the source trees node-llama-cpp bundles
        // (llama/gitRelease.bundle; llama/binariesGithubRelease.json names the release). b6845
        // is the nearest stored build at or below b6918 (the headers say why).
        const std::string kNodeLlamaCpp =
            "npm node-llama-cpp llama/gitRelease.bundle (ggml-org/llama.cpp release ";
        add({Engine::llama_cpp, "b6845", "llama.cpp release b6845 (2025-10-26), built from source",
             kNodeLlamaCpp + "b6845)", "",
             "no official llama.cpp image in the playbooks: native build", "extracted",
             "b6845 (node-llama-cpp 3.14.2)", false, "6845", "999"},
            sparkctl_flags_llamacpp_b6845, sparkctl_flags_llamacpp_b6845_size);
        add({Engine::llama_cpp, "b7324", "llama.cpp release b7324 (2025-12-08), built from source",
             kNodeLlamaCpp + "b7324)", "",
             "no official llama.cpp image in the playbooks: native build", "extracted",
             "b7324 (node-llama-cpp 3.14.4)", false, "7324", "999"},
            sparkctl_flags_llamacpp_b7324, sparkctl_flags_llamacpp_b7324_size);
        // The image ships vLLM 0.20.1 (NVIDIA vLLM release notes 26.05); the table is extracted
        // at v0.20.1rc0 (data/engines/vllm-ngc-26.05.flags.tsv says how that commit was found).
        add({Engine::vllm, "ngc-26.05", "vLLM 0.20.1 in NVIDIA's NGC image 26.05-py3",
             std::string(kPlaybooks) + " nvidia/vllm/README.md (single node and two-Spark Ray)",
             "nvcr.io/nvidia/vllm:26.05-py3",
             std::string(kPlaybooks) + " nvidia/vllm/README.md step 3", "extracted",
             "ebf862c351dc4bcaf65de34c3caebe6df6e9e214 (v0.20.1rc0)", true, "0.20.1", ""},
            sparkctl_flags_vllm_ngc_26_05, sparkctl_flags_vllm_ngc_26_05_size,
            std::string_view(sparkctl_values_vllm_ngc_26_05, sparkctl_values_vllm_ngc_26_05_size));
        // An older vLLM installed natively (pip); no image of that exact commit is cited.
        add({Engine::vllm, "0.11",
             "vLLM about v0.11 (commit 99d7eb5d: its deprecations say 'removed in v0.12.0'), "
             "installed natively",
             "vllm-project/vllm 99d7eb5d vllm/engine/arg_utils.py", "", "no image cited",
             "extracted",
             "99d7eb5d6a512cfcc5a2b104f24ebf2d6cda772b (cli_args.py at "
             "005223338608bc94fd165a4f976c102a57bd1fc4)",
             false, "0.11", ""},
            sparkctl_flags_vllm_0_11, sparkctl_flags_vllm_0_11_size);
        // The tag is unpinned: the table is SGLang main of 2026-08-16 (its header says so).
        add({Engine::sglang, "latest-cu130", "SGLang in lmsysorg/sglang:latest-cu130",
             std::string(kPlaybooks) + " nvidia/sglang/README.md", "lmsysorg/sglang:latest-cu130",
             std::string(kPlaybooks) + " nvidia/sglang/README.md (SGLANG_IMAGE)", "extracted",
             "9be3044b9cbe191d21675c857dd79f62b02b6ca0 (main, 2026-08-16)", true, "", ""},
            sparkctl_flags_sglang_latest_cu130, sparkctl_flags_sglang_latest_cu130_size,
            std::string_view(sparkctl_values_sglang_latest_cu130,
                             sparkctl_values_sglang_latest_cu130_size));
        for (const auto& cols : rows_of(
                 std::string_view(sparkctl_archs_llamacpp_2026, sparkctl_archs_llamacpp_2026_size),
                 1)) {
            reg.llamacpp_archs.insert(cols[0]);
        }
        return reg;
    }();
    return r;
}

std::optional<std::size_t> index_of(const EngineVersion& v) {
    const Registry& r = registry();
    for (std::size_t i = 0; i < r.versions.size(); ++i) {
        if (r.versions[i].engine == v.engine && r.versions[i].name == v.name) return i;
    }
    return std::nullopt;
}

const FlagTable& table_of(const EngineVersion& v) {
    static const FlagTable kEmpty;
    const auto i = index_of(v);
    return i ? registry().flags[*i] : kEmpty;
}

const ValueTable& values_of(const EngineVersion& v) {
    static const ValueTable kEmpty;
    const auto i = index_of(v);
    return i ? registry().values[*i] : kEmpty;
}

bool is_flag(const std::string& arg) {
    if (arg.size() < 2 || arg[0] != '-') return false;
    return !(arg[1] >= '0' && arg[1] <= '9');  // -1 is a value
}

}  // namespace

const std::vector<EngineVersion>& engine_versions() { return registry().versions; }

const EngineVersion& default_version(Engine engine) {
    for (const EngineVersion& v : registry().versions) {
        if (v.engine == engine && v.playbook_default) return v;
    }
    SPARKCTL_ASSERT(false);
    return registry().versions.front();
}

// The leading dotted numbers of a release ("0.10.1.dev544+g..." -> {0, 10, 1}); empty when it
// does not start with a digit.
std::vector<std::uint64_t> release_numbers(std::string_view s) {
    std::vector<std::uint64_t> out;
    std::size_t i = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        std::uint64_t n = 0;
        for (; i < s.size() && s[i] >= '0' && s[i] <= '9' && n < (1ull << 40); ++i) {
            n = n * 10 + static_cast<std::uint64_t>(s[i] - '0');
        }
        out.push_back(n);
        if (i + 1 < s.size() && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9') {
            ++i;
        } else {
            break;
        }
    }
    return out;
}

const EngineVersion* nearest_version(Engine engine, std::string_view release) {
    const std::vector<std::uint64_t> want = release_numbers(base::trim(release));
    if (want.empty()) return nullptr;
    const EngineVersion* best = nullptr;
    std::vector<std::uint64_t> best_n;
    bool any_numbered = false;
    for (const EngineVersion& v : registry().versions) {
        if (v.engine != engine || v.release.empty()) continue;
        any_numbered = true;
        const std::vector<std::uint64_t> n = release_numbers(v.release);
        if (n <= want && (best == nullptr || n > best_n)) {
            best = &v;
            best_n = n;
        }
    }
    return any_numbered ? best : &default_version(engine);
}

base::Result<const EngineVersion*> find_version(Engine engine, std::string_view name) {
    std::string known;
    for (const EngineVersion& v : registry().versions) {
        if (v.engine != engine) continue;
        if (base::iequals(v.name, base::trim(name))) return &v;
        known += (known.empty() ? "" : ", ") + v.name;
    }
    if (engine == Engine::llama_cpp) {  // a build number: b6918 or 6918
        std::string_view build = base::trim(name);
        if (build.size() > 1 && (build[0] == 'b' || build[0] == 'B')) build.remove_prefix(1);
        if (!build.empty() && release_numbers(build).size() == 1 &&
            std::to_string(release_numbers(build)[0]) == build) {
            if (const EngineVersion* v = nearest_version(engine, build)) return v;
        }
    }
    return base::make_error(base::Errc::bad_input, "--engine-version: '" + base::printable(name) +
                                                       "' has no flag table for " +
                                                       to_string(engine) + " (known: " + known +
                                                       ")");
}

bool accepts_flag(const EngineVersion& version, std::string_view flag) {
    const FlagTable& t = table_of(version);
    return t.find(flag) != t.end();
}

std::optional<bool> flag_takes_value(const EngineVersion& version, std::string_view flag) {
    const FlagTable& t = table_of(version);
    auto it = t.find(flag);
    if (it == t.end()) return std::nullopt;
    return it->second;
}

std::vector<std::string> unknown_flags(const EngineVersion& version,
                                       const std::vector<std::string>& argv, std::size_t skip) {
    std::vector<std::string> out;
    for (std::size_t i = skip; i < argv.size(); ++i) {
        if (!is_flag(argv[i])) continue;
        std::string flag = argv[i].substr(0, argv[i].find('='));
        if (!accepts_flag(version, flag)) {
            out.push_back(flag);
            continue;
        }
        if (flag_takes_value(version, flag).value_or(false) &&
            argv[i].find('=') == std::string::npos) {
            ++i;  // skip the value
        }
    }
    return out;
}

std::vector<std::string> unknown_values(const EngineVersion& version,
                                        const std::vector<std::string>& argv, std::size_t skip) {
    std::vector<std::string> out;
    const ValueTable& t = values_of(version);
    for (std::size_t i = skip; i < argv.size(); ++i) {
        const std::size_t eq = argv[i].find('=');
        const std::string flag = argv[i].substr(0, eq);
        auto it = t.find(flag);
        if (it == t.end()) continue;
        std::string value;
        if (eq != std::string::npos) {
            value = argv[i].substr(eq + 1);
        } else if (i + 1 < argv.size()) {
            value = argv[++i];
        }
        if (!it->second.contains(value)) out.push_back(flag + " " + value);
    }
    return out;
}

bool llamacpp_supports(std::string_view arch) {
    const auto& a = registry().llamacpp_archs;
    return !arch.empty() && a.find(arch) != a.end();
}

Parsers parsers_for(Engine engine, std::string_view hf_class, std::string_view hf_id) {
    // Every name below is registered in the version's values table (data/engines/*.values.tsv:
    // V:vllm/tool_parsers/__init__.py, V:vllm/reasoning/__init__.py,
    // S:python/sglang/srt/function_call/function_call_parser.py,
    // S:python/sglang/srt/parser/reasoning_parser.py); engines_test checks it for every catalog
    // model. llama.cpp parses tool calls from the GGUF's Jinja chat template (--jinja).
    if (engine == Engine::llama_cpp) {
        return {"", "", "LC:tools/server/README.md (--jinja: tool calls from the chat template)"};
    }
    const bool v = engine == Engine::vllm;
    const std::string id = base::to_lower(hf_id);
    const bool coder = id.find("coder") != std::string::npos;
    const bool r1 = id.find("-r1") != std::string::npos;
    // The engines' own parser lists: which families each parser serves.
    const std::string docs =
        v ? "https://github.com/vllm-project/vllm/blob/main/docs/features/tool_calling.md"
          : "https://docs.sglang.io/docs/advanced_features/tool_parser.md, "
            "https://docs.sglang.io/docs/advanced_features/separate_reasoning.md";
    if (hf_class == "GptOssForCausalLM") {
        // vLLM parses gpt-oss reasoning from the Harmony format itself.
        return v ? Parsers{"openai", "", docs + " (OpenAI OSS Models: openai)"}
                 : Parsers{"gpt-oss", "gpt-oss", docs + " (gpt-oss)"};
    }
    if ((hf_class == "Qwen3ForCausalLM" || hf_class == "Qwen3MoeForCausalLM") && coder) {
        // Qwen3-Coder does not think.
        return {"qwen3_coder", "",
                v ? "https://docs.vllm.ai/projects/recipes/en/latest/Qwen/"
                    "Qwen3-Coder-480B-A35B.html (--tool-call-parser qwen3_coder)"
                  : "https://docs.sglang.io/cookbook/autoregressive/Qwen/Qwen3-Coder.md "
                    "(--tool-call-parser qwen3_coder)"};
    }
    // SGLang: qwen and glm are the documented names; qwen25 and glm45 are deprecated aliases of
    // the same detectors (S:python/sglang/srt/server_args.py deprecated_tool_call_parsers).
    if (hf_class == "Qwen3ForCausalLM" || hf_class == "Qwen3MoeForCausalLM") {
        return v ? Parsers{"hermes", "qwen3",
                           "https://qwen.readthedocs.io/en/latest/framework/function_call.html"
                           "#vllm (hermes); " +
                               docs + " (Qwen Models: hermes)"}
                 : Parsers{"qwen", "qwen3", docs + " (qwen: the Qwen series; qwen3 reasoning)"};
    }
    if (hf_class == "Qwen2ForCausalLM") {
        return {v ? "hermes" : "qwen", "", docs + (v ? " (Qwen Models: hermes)" : " (qwen)")};
    }
    if (hf_class == "LlamaForCausalLM") {
        return {v ? "llama3_json" : "llama3", "",
                docs + (v ? " (Llama Models: llama3_json)" : " (llama3: Llama 3.1 / 3.2 / 3.3)")};
    }
    if (hf_class == "Llama4ForConditionalGeneration") {
        return {v ? "llama4_pythonic" : "pythonic", "",
                docs + (v ? " (Llama 4: llama4_pythonic)" : " (pythonic: Llama-4)")};
    }
    if (hf_class == "DeepseekV3ForCausalLM") {
        return {v ? "deepseek_v3" : "deepseekv3", r1 ? (v ? "deepseek_r1" : "deepseek-r1") : "",
                docs + " (DeepSeek-V3 / DeepSeek-R1-0528: deepseek_v3)"};
    }
    if (hf_class == "Glm4MoeForCausalLM") {
        return {
            v ? "glm45" : "glm", "glm45",
            docs + (v ? " (GLM-4.5 Models: glm45)" : " (glm: the GLM series; glm45 reasoning)")};
    }
    if (hf_class == "Mistral3ForConditionalGeneration") {
        return {"mistral", "", docs + " (Mistral Models: mistral)"};
    }
    if (hf_class == "Gemma3ForConditionalGeneration" || hf_class == "Gemma3ForCausalLM") {
        // Gemma 3 has no tool-call tokens: vLLM ships a chat template that asks for a Python
        // list of calls, which the pythonic parser reads (SGLang's pythonic detector reads the
        // same list). Neither engine registers a Gemma-3-specific parser or a reasoning parser.
        // Gemma's own template has no tool-call format, so both engines get vLLM's template.
        return {"pythonic", "",
                "https://github.com/vllm-project/vllm/blob/main/examples/"
                "tool_chat_template_gemma3_pythonic.jinja (pythonic, with that template); " +
                    docs + " (pythonic)",
                "examples/tool_chat_template_gemma3_pythonic.jinja"};
    }
    if (hf_class == "NemotronHForCausalLM" && id.find("nemotron-3") != std::string::npos) {
        // Nemotron 3 (Nano and Super) emits Qwen3-Coder style XML tool calls.
        return v ? Parsers{"qwen3_coder", "nemotron_v3",
                           "https://github.com/vllm-project/recipes/blob/main/NVIDIA/"
                           "Nemotron-3-Nano-30B-A3B.md (--tool-call-parser qwen3_coder); "
                           "V:vllm/reasoning/__init__.py (nemotron_v3)"}
                 : Parsers{"qwen3_coder", "nemotron_3",
                           "https://docs.sglang.io/cookbook/autoregressive/NVIDIA/"
                           "Nemotron3-Super.md (--tool-call-parser qwen3_coder "
                           "--reasoning-parser nemotron_3)"};
    }
    return {"", "", docs};
}

}  // namespace sparkctl::engines
