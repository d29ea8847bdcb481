// Software checks: the engines and their versions, docker and the NVIDIA container runtime, the
// engine images, serve's port, and disk space where models live.
#include <filesystem>

#include "base/strings.h"
#include "doctor/detail/checks.h"
#include "engines/versions.h"

namespace sparkctl::doctor::detail {

namespace {

struct EngineRow {
    engines::Engine engine;
    const char* id;
    const char* key;  // the config key naming its program
};

constexpr EngineRow kEngines[] = {
    {engines::Engine::llama_cpp, "engine.llama_cpp", "llama_server"},
    {engines::Engine::vllm, "engine.vllm", "vllm"},
    {engines::Engine::sglang, "engine.sglang", "sglang_python"},
};

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& ch : out) {
        if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
    }
    return out;
}

std::string strip_prefix(std::string s, std::string_view prefix) {
    if (s.rfind(prefix, 0) == 0) s.erase(0, prefix.size());
    return s;
}

Check engine_check(Machine& machine, const Inputs& in, const EngineRow& row) {
    Check c{row.id, Status::ok, "", "", ""};
    const engines::Runner run = [&machine](const std::vector<std::string>& argv,
                                           std::chrono::milliseconds t) {
        return machine.run(argv, t);
    };
    auto found = engines::detect_installed(row.engine, in.programs, run, in.timeout);
    if (!found) {
        c.status = Status::warn;
        c.detail = strip_prefix(found.error().message, "--engine-version installed: ");
        c.fix = std::string("install it, or name its program with ") + row.key +
                " in the config (SPARKCTL_" + upper(row.key) + ")";
        return c;
    }
    c.detail = std::string(engines::to_string(row.engine)) + " " + found->release +
               ", planned with the " + found->version->name + " flag table (" + found->found + ")";
    return c;
}

// Runs docker; the result, or why it could not run.
base::Result<base::ProcessResult> docker(Machine& machine, const Inputs& in,
                                         std::vector<std::string> args) {
    args.insert(args.begin(), in.programs.docker);
    return machine.run(args, in.timeout);
}

void docker_checks(Machine& machine, const Inputs& in, std::vector<Check>& out) {
    Check d{"docker", Status::ok, "", "", ""};
    Check rt{"nvidia_runtime", Status::warn, "not checked: no docker daemon", "", ""};
    Check images{"images", Status::warn, "not checked: no docker daemon", "", ""};
    auto info = docker(machine, in, {"info"});
    if (!info) {
        d.status = Status::warn;
        d.detail = info.error().code == base::Errc::not_found
                       ? in.programs.docker + " not found: container deployments unavailable"
                       : info.error().message;
        d.fix = "install Docker Engine, or name the client with docker in the config";
        out.insert(out.end(), {d, rt, images});
        return;
    }
    const DockerInfo parsed = parse_docker_info(info->stdout_text, info->stderr_text);
    if (parsed.server_version.empty()) {
        d.status = Status::warn;
        d.detail =
            "the docker client cannot reach a daemon: " +
            (parsed.server_error.empty() ? first_line(info->stderr_text) : parsed.server_error);
        d.fix =
            "sudo systemctl enable --now docker; sudo usermod -aG docker $USER (then log in "
            "again)";
        out.insert(out.end(), {d, rt, images});
        return;
    }
    d.detail = "docker server " + parsed.server_version;
    out.push_back(d);

    rt.detail =
        "runtimes: " + (parsed.runtimes.empty() ? "none listed" : join(parsed.runtimes, " ")) +
        "; default: " + (parsed.default_runtime.empty() ? "unknown" : parsed.default_runtime);
    bool nvidia = false;
    for (const std::string& r : parsed.runtimes) nvidia = nvidia || r == "nvidia";
    if (nvidia) {
        rt.status = Status::ok;
    } else {
        rt.detail = "no nvidia runtime registered (" + rt.detail + ")";
        rt.fix =
            "sudo apt install nvidia-container-toolkit && sudo nvidia-ctk runtime configure "
            "--runtime=docker && sudo systemctl restart docker";
    }
    out.push_back(rt);

    std::vector<std::string> present, missing;
    for (engines::Engine e : {engines::Engine::vllm, engines::Engine::sglang}) {
        const std::string image = in.programs.image(engines::default_version(e));
        if (image.empty()) continue;
        auto r = docker(machine, in, {"image", "inspect", "--format", "{{.Id}}", image});
        (r && !r->timed_out && r->exit_code == 0 ? present : missing).push_back(image);
    }
    images.status = missing.empty() ? Status::ok : Status::warn;
    images.detail = "present: " + (present.empty() ? "none" : join(present, ", "));
    if (!missing.empty()) {
        images.detail += "; missing: " + join(missing, ", ");
        images.fix = "docker pull " + join(missing, " && docker pull ");
    }
    out.push_back(images);
}

Check port_check(Machine& machine, const Inputs& in) {
    const std::string where = "127.0.0.1:" + std::to_string(in.port);
    if (machine.port_free(in.port)) return {"port", Status::ok, where + " is free", "", ""};
    return {"port", Status::warn, where + " is in use (sparkctl serve listens there)",
            "find the listener with ss -ltnp 'sport = :" + std::to_string(in.port) +
                "', or give serve another --listen address",
            ""};
}

Check disk_check(Machine& machine, const Inputs& in) {
    Check c{"disk", Status::ok, "", "", ""};
    const std::filesystem::path cache = hf_hub_cache(machine);
    // The cache may not exist yet: measure the nearest directory that does.
    std::filesystem::path at = cache;
    base::Result<std::uint64_t> free = machine.disk_free_bytes(at);
    while (!free && at.has_relative_path()) {
        at = at.parent_path();
        free = machine.disk_free_bytes(at);
    }
    if (!free) {
        c.status = Status::warn;
        c.detail = free.error().message;
        return c;
    }
    c.detail = bytes(*free) + " free at " + at.string() + " (models: " + cache.string() + ")";
    if (*free < in.budget_bytes) {
        // A model that fits the memory budget may not fit the disk.
        c.status = Status::warn;
        c.detail += ", less than the memory budget " + bytes(in.budget_bytes);
        c.fix = "free disk space, or set HF_HUB_CACHE to a directory on a larger disk";
    }
    return c;
}

}  // namespace

void software_checks(Machine& machine, const Inputs& inputs, std::vector<Check>& out) {
    for (const EngineRow& row : kEngines) out.push_back(engine_check(machine, inputs, row));
    docker_checks(machine, inputs, out);
    out.push_back(port_check(machine, inputs));
    out.push_back(disk_check(machine, inputs));
}

}  // namespace sparkctl::doctor::detail
