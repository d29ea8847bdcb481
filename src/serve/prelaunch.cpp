#include "serve/prelaunch.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/file.h"
#include "base/log.h"
#include "base/strings.h"
#include "serve/admission.h"

namespace sparkctl::serve {

bool wants_drop_caches(std::uint64_t needed_bytes, std::uint64_t mem_free_bytes,
                       std::uint64_t headroom_bytes) {
    return needed_bytes + headroom_bytes > mem_free_bytes;
}

base::Result<void> drop_page_cache(const std::filesystem::path& path) {
    ::sync();  // dirty pages are not dropped: write them back first (vm.rst, drop_caches)
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return base::make_error(
            base::Errc::io, path.string() + ": cannot open for writing: " + std::strerror(errno));
    }
    const bool ok = ::write(fd, "1", 1) == 1;
    const int err = errno;
    ::close(fd);
    if (!ok) {
        return base::make_error(base::Errc::io,
                                path.string() + ": cannot write: " + std::strerror(err));
    }
    return {};
}

namespace {

std::string value_after(const std::vector<std::string>& argv, std::string_view flag) {
    auto it = std::find(argv.begin(), argv.end(), flag);
    return it == argv.end() || it + 1 == argv.end() ? std::string() : *(it + 1);
}

void maybe_drop_caches(const DeploymentSpec& spec, const PrelaunchOptions& o) {
    if (!o.drop_caches || !o.meminfo_path) return;
    const std::string origin = o.meminfo_path->string();
    auto text = base::read_file(*o.meminfo_path, 1u << 20);
    if (!text) {
        base::log_warn("serve: drop_caches: " + text.error().message);
        return;
    }
    auto mem_free = parse_meminfo_field(*text, "MemFree", origin);
    if (!mem_free) {
        base::log_warn("serve: drop_caches: " + mem_free.error().message);
        return;
    }
    if (!wants_drop_caches(spec.planned_bytes, *mem_free, o.headroom_bytes)) return;
    const std::string why = "needs " + base::format_bytes(spec.planned_bytes) + " plus " +
                            base::format_bytes(o.headroom_bytes) + " headroom, MemFree is " +
                            base::format_bytes(*mem_free);
    if (auto r = drop_page_cache(o.drop_caches_path); !r) {
        base::log_warn("serve: " + spec.config.id + ": drop_caches = true but the page cache was " +
                       "not dropped (" + r.error().message + "; it needs root): " + why);
        return;
    }
    base::log_info("serve: " + spec.config.id + ": dropped the page cache: " + why);
}

}  // namespace

base::Result<void> prepare_launch(DeploymentSpec& spec, std::uint64_t mem_available,
                                  const PrelaunchOptions& options) {
    maybe_drop_caches(spec, options);
    const std::string planned = value_after(spec.argv, "--gpu-memory-utilization");
    SPARKCTL_TRY(fit_vllm_memory_utilization(spec, mem_available, options.headroom_bytes));
    const std::string launched = value_after(spec.argv, "--gpu-memory-utilization");
    if (planned != launched) {
        base::log_info("serve: " + spec.config.id + ": --gpu-memory-utilization " + planned +
                       " (planned) -> " + launched + " at launch: MemAvailable " +
                       base::format_bytes(mem_available) + " minus " +
                       base::format_bytes(options.headroom_bytes) + " headroom of " +
                       base::format_bytes(spec.memory_total_bytes));
    }
    return {};
}

}  // namespace sparkctl::serve
