// Engine versions sparkctl targets and the facts that depend on them: the flags each version
// accepts (data/engines/*.flags.tsv, extracted from the engine's own argument definitions by
// scripts/extract-engine-flags.py), the architectures llama.cpp supports
// (data/engines/llama.cpp-*.archs.tsv), the official container image and where each fact comes
// from. The default versions are the ones NVIDIA's DGX Spark playbooks use
// (NVIDIA/dgx-spark-playbooks 0db7c14). Data is compiled in; all functions are thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "engines/engine.h"

namespace sparkctl::engines {

struct EngineVersion {
    Engine engine = Engine::llama_cpp;
    std::string name;          // what --engine-version takes and the plan reports
    std::string description;   // the release or image it describes
    std::string source;        // citation: which playbook uses it
    std::string image;         // official container image; "" when none (llama.cpp: native)
    std::string image_source;  // citation for the image
    std::string flags_origin;  // "extracted" or "curated" (see the table's header)
    std::string flags_commit;  // the engine commit the flag table was read at
    bool playbook_default = false;
    // The engine release the table was read at, comparable by numbers: "6845" (llama.cpp build
    // b6845), "0.20.1" (vLLM), a lower bound where only that is known; "" when unknown (SGLang's
    // unpinned image tag).
    std::string release;
    // llama.cpp: the -ngl value that offloads every layer: "all" where -ngl takes it, "999"
    // where it takes a number only (LC:common/arg.cpp, `[](common_params &, int value)`).
    std::string all_gpu_layers = "all";
};

// Every version with a flag table, the playbook default first for each engine.
const std::vector<EngineVersion>& engine_versions();

// The version the DGX Spark playbooks use for `engine`.
const EngineVersion& default_version(Engine engine);

// Finds `name` (case-insensitive) among `engine`'s versions; a llama.cpp build ("b6918" or
// "6918") without a table of its own gets nearest_version's. Errors: bad_input naming the value
// and listing the versions that have a flag table.
base::Result<const EngineVersion*> find_version(Engine engine, std::string_view name);

// The table for an engine release ("6918", "0.11.0", "0.10.1.dev544+gc90fb03df"): the newest
// version whose release is at or below it (llama.cpp's 2026 tree counts as build 10621, a lower
// bound); an engine with no numbered table (SGLang) gets its default. nullptr when the release is
// older than every table or does not start with a number.
const EngineVersion* nearest_version(Engine engine, std::string_view release);

// True when `flag` ("--max-model-len", "-c") is defined by the version's argument parser.
bool accepts_flag(const EngineVersion& version, std::string_view flag);

// True when the flag takes a value (false for switches); nullopt when the flag is unknown.
std::optional<bool> flag_takes_value(const EngineVersion& version, std::string_view flag);

// The flags in argv (arguments starting with '-' that are not negative numbers) that the version
// does not accept; argv[0..skip) are the program and subcommand.
std::vector<std::string> unknown_flags(const EngineVersion& version,
                                       const std::vector<std::string>& argv, std::size_t skip);

// "--flag value" for each value in argv the version does not accept for a flag whose values
// it lists (data/engines/*.values.tsv: parser names and closed choice lists of vLLM and
// SGLang); flags without such a list are not checked.
std::vector<std::string> unknown_values(const EngineVersion& version,
                                        const std::vector<std::string>& argv, std::size_t skip);

// llama.cpp support of an architecture: the HF class (config.json "architectures") its converter
// takes, or a GGUF general.architecture it loads (LC:convert_hf_to_gguf.py, LC:conversion/*.py,
// LC:src/llama-arch.cpp, as extracted into data/engines/llama.cpp-2026.archs.tsv). An
// architecture absent from both is "new" (R-ENG-4).
bool llamacpp_supports(std::string_view hf_class_or_gguf_arch);

// Tool-calling and reasoning parsers an engine needs for a model family so that coding agents
// work (vLLM --tool-call-parser/--reasoning-parser, SGLang the same flags; llama.cpp --jinja).
struct Parsers {
    std::string tool_call;  // "" when the engine has none for this family
    std::string reasoning;  // "" when the model does not reason or the engine handles it itself
    std::string source;     // citation
    // A chat template the tool parser needs, as a path in vLLM's repository ("" when the model's
    // own template works): the plan passes it as --chat-template ${TOOL_CHAT_TEMPLATE}.
    std::string chat_template = {};
};
Parsers parsers_for(Engine engine, std::string_view hf_class, std::string_view hf_id);

}  // namespace sparkctl::engines
