// The engine installed on this machine (`sparkctl plan --engine-version installed`): runs the
// engine's own version command, or asks docker for the playbook image, and maps what it finds to
// the nearest flag table at or below it (engines::nearest_version). The parsers are pure; detect
// runs processes (base::run_process, with a timeout).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/process.h"
#include "base/result.h"
#include "engines/engine.h"
#include "engines/versions.h"

namespace sparkctl::engines {

// The build number in `llama-server --version`'s output (it prints on stderr, after any backend
// log lines): "version: 6918 (abc1234)" (LC:common/arg.cpp until late 2025) or "version:
// 0.3.0-dev (build 10621, commit c1d0e7a00)" (later builds). nullopt when absent or 0 (a build
// without its git metadata prints "version: 0 (unknown)").
std::optional<std::string> parse_llamacpp_version(std::string_view output);

// The release in `vllm --version`'s output: its last line that starts with a digit ("0.10.2",
// "0.10.1.dev544+gc90fb03df.precompiled"), after any log lines ("INFO ... Automatically detected
// platform cuda."). nullopt when there is none.
std::optional<std::string> parse_vllm_version(std::string_view output);

struct Installed {
    const EngineVersion* version = nullptr;  // the table the plan uses
    std::string release;                     // what the engine reported ("6918", "0.11.0")
    std::string found;                       // the command and its answer, for the plan's trace
};

// The engines of this machine: the programs detection runs and serve launches (config keys
// llama_server, vllm, sglang_python, docker) and the container image per engine version (the
// config's [images] table, version name -> image). plan::engine_programs fills it from the
// config for plan, doctor and serve alike.
struct Programs {
    std::string llama_server = "llama-server";
    std::string vllm = "vllm";
    std::string sglang_python = "python3";
    std::string docker = "docker";
    std::map<std::string, std::string> images;

    // The executable that runs `engine` natively (SGLang: the Python that has it).
    const std::string& executable(Engine engine) const;
    // The image for `version`: the [images] entry under its name, else its table's image ("":
    // none).
    std::string image(const EngineVersion& version) const;
};

// Runs a program with a timeout; errors as base::run_process (not_found when it does not exist).
using Runner = std::function<base::Result<base::ProcessResult>(const std::vector<std::string>&,
                                                               std::chrono::milliseconds)>;

// Looks for `engine` with `programs`: llama.cpp runs `llama_server --version`; vLLM `vllm
// --version`, then `docker image inspect` of each vLLM version's image; SGLang `sglang_python -c
// 'import sglang; print(sglang.__version__)'`, then its images. Errors: bad_input naming
// everything looked for when nothing is installed, or the release when it is older than every
// table.
base::Result<Installed> detect_installed(
    Engine engine, const Programs& programs,
    std::chrono::milliseconds timeout = std::chrono::seconds(60));

// The same, run through `run` (sparkctl doctor's seam).
base::Result<Installed> detect_installed(Engine engine, const Programs& programs, const Runner& run,
                                         std::chrono::milliseconds timeout);

}  // namespace sparkctl::engines
