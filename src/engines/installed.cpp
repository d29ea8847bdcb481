#include "engines/installed.h"

#include <vector>

#include "base/process.h"
#include "base/strings.h"

namespace sparkctl::engines {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The leading run of digits of s ("6918 (abc)" -> "6918").
std::string leading_digits(std::string_view s) {
    std::size_t n = 0;
    while (n < s.size() && is_digit(s[n])) ++n;
    return std::string(s.substr(0, n));
}

// Runs argv; the combined output when it ran and exited 0, else nullopt (not installed).
std::optional<std::string> output_of(const Runner& run, const std::vector<std::string>& argv,
                                     std::chrono::milliseconds timeout) {
    auto r = run(argv, timeout);
    if (!r || r->timed_out || r->exit_code != 0) return std::nullopt;
    return r->stdout_text + "\n" + r->stderr_text;
}

std::string first_line_with(std::string_view text, std::string_view needle) {
    for (const std::string& line : base::split(text, '\n')) {
        if (line.find(needle) != std::string::npos) return std::string(base::trim(line));
    }
    return "";
}

base::Result<Installed> map_release(Engine engine, std::string release, std::string found) {
    const EngineVersion* v = nearest_version(engine, release);
    if (v == nullptr) {
        std::string known;
        for (const EngineVersion& x : engine_versions()) {
            if (x.engine == engine) known += (known.empty() ? "" : ", ") + x.name;
        }
        return base::make_error(base::Errc::bad_input,
                                "--engine-version installed: " + found + ": " + to_string(engine) +
                                    " " + release + " is older than every flag table (" + known +
                                    "); pass --engine-version to plan for one of them");
    }
    return Installed{v, std::move(release), std::move(found)};
}

// The first image of `engine`'s versions that docker has locally.
std::optional<Installed> installed_image(Engine engine, const Programs& programs, const Runner& run,
                                         std::chrono::milliseconds timeout, std::string& looked) {
    for (const EngineVersion& v : engine_versions()) {
        if (v.engine != engine || v.image.empty()) continue;
        const std::string image = programs.image(v);
        looked += ", `" + programs.docker + " image inspect " + image + "`";
        if (output_of(run, {programs.docker, "image", "inspect", "--format", "{{.Id}}", image},
                      timeout)) {
            return Installed{&v, v.release, "docker has the image " + image};
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> parse_llamacpp_version(std::string_view output) {
    for (const std::string& raw : base::split(output, '\n')) {
        std::string_view line = base::trim(raw);
        if (!line.starts_with("version:")) continue;
        line = base::trim(line.substr(8));
        std::string build;
        if (const std::size_t at = line.find("(build "); at != std::string_view::npos) {
            build = leading_digits(line.substr(at + 7));  // 0.3.0-dev (build 10621, commit ...)
        } else {
            build = leading_digits(line);  // 6918 (abc1234)
        }
        if (!build.empty() && build.find_first_not_of('0') != std::string::npos) return build;
    }
    return std::nullopt;
}

std::optional<std::string> parse_vllm_version(std::string_view output) {
    std::optional<std::string> out;
    for (const std::string& raw : base::split(output, '\n')) {
        const std::string_view line = base::trim(raw);
        if (!line.empty() && is_digit(line[0]) && line.find(' ') == std::string_view::npos) {
            out = std::string(line);
        }
    }
    return out;
}

namespace {
// Looks for `engine` with `programs`; `hint` ends the not-installed message.
base::Result<Installed> detect(Engine engine, const Programs& programs, const Runner& run,
                               std::chrono::milliseconds timeout, std::string_view hint);
}  // namespace

const std::string& Programs::executable(Engine engine) const {
    switch (engine) {
        case Engine::llama_cpp:
            return llama_server;
        case Engine::vllm:
            return vllm;
        case Engine::sglang:
            return sglang_python;
    }
    return llama_server;
}

std::string Programs::image(const EngineVersion& version) const {
    auto it = images.find(version.name);
    return it == images.end() ? version.image : it->second;
}

base::Result<Installed> detect_installed(Engine engine, const Programs& programs,
                                         std::chrono::milliseconds timeout) {
    const Runner run = [](const std::vector<std::string>& argv, std::chrono::milliseconds t) {
        base::RunOptions o;
        o.timeout = t;
        o.max_output_bytes = 1u << 20;
        return base::run_process(argv, o);
    };
    return detect(engine, programs, run, timeout,
                  "; the config keys llama_server, vllm, sglang_python and docker name other "
                  "programs");
}

base::Result<Installed> detect_installed(Engine engine, const Programs& programs, const Runner& run,
                                         std::chrono::milliseconds timeout) {
    return detect(engine, programs, run, timeout, "");
}

namespace {

base::Result<Installed> detect(Engine engine, const Programs& programs, const Runner& run,
                               std::chrono::milliseconds timeout, std::string_view hint) {
    std::string looked;
    if (engine == Engine::llama_cpp) {
        const std::string& exe = programs.llama_server;
        looked = "`" + exe + " --version`";
        if (auto out = output_of(run, {exe, "--version"}, timeout)) {
            const auto build = parse_llamacpp_version(*out);
            const std::string said = first_line_with(*out, "version:");
            if (!build) {
                return base::make_error(base::Errc::bad_input,
                                        "--engine-version installed: " + exe +
                                            " --version gave no build number (" +
                                            base::printable(said.empty() ? *out : said) +
                                            "); pass --engine-version bNNNN");
            }
            return map_release(engine, *build, exe + " --version: " + said);
        }
    } else if (engine == Engine::vllm) {
        const std::string& exe = programs.vllm;
        looked = "`" + exe + " --version`";
        if (auto out = output_of(run, {exe, "--version"}, timeout)) {
            if (const auto release = parse_vllm_version(*out)) {
                return map_release(engine, *release, exe + " --version: " + *release);
            }
        }
        if (auto image = installed_image(engine, programs, run, timeout, looked)) {
            return *image;
        }
    } else {
        const std::string& exe = programs.sglang_python;
        looked = "`" + exe + " -c 'import sglang'`";
        if (auto out =
                output_of(run, {exe, "-c", "import sglang; print(sglang.__version__)"}, timeout)) {
            if (const auto release = parse_vllm_version(*out)) {  // a bare version line too
                return map_release(engine, *release, "sglang " + *release);
            }
        }
        if (auto image = installed_image(engine, programs, run, timeout, looked)) {
            return *image;
        }
    }
    return base::make_error(base::Errc::bad_input, std::string("--engine-version installed: no ") +
                                                       to_string(engine) +
                                                       " is installed here (looked for: " + looked +
                                                       std::string(hint) + ")");
}

}  // namespace

}  // namespace sparkctl::engines
