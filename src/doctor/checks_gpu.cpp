// GPU checks: the NVIDIA driver and the CUDA version it supports, and a GB10 (plain nvidia-smi).
#include "base/strings.h"
#include "doctor/detail/checks.h"

namespace sparkctl::doctor::detail {

void gpu_checks(Machine& machine, const Inputs& inputs, std::vector<Check>& out) {
    Check driver{"nvidia_driver", Status::ok, "", "", ""};
    Check gpu{"gpu", Status::ok, "", "", ""};
    auto smi = machine.run({"nvidia-smi"}, inputs.timeout);
    std::string why;
    if (!smi) {
        why = smi.error().code == base::Errc::not_found ? "nvidia-smi not found"
                                                        : smi.error().message;
    } else if (smi->timed_out) {
        why = "nvidia-smi did not answer within " + std::to_string(inputs.timeout.count() / 1000) +
              " s";
    } else if (smi->exit_code != 0) {
        why = "nvidia-smi exited with status " + std::to_string(smi->exit_code) + ": " +
              first_line(smi->stdout_text + smi->stderr_text);
    }
    base::Result<NvidiaSmiTable> table =
        why.empty() ? parse_nvidia_smi_table(smi->stdout_text)
                    : base::Result<NvidiaSmiTable>(base::make_error(base::Errc::io, why));
    if (!table) {
        driver.status = gpu.status = Status::fail;
        driver.detail = table.error().message + ": no working NVIDIA driver";
        driver.fix = "install the NVIDIA driver (DGX OS ships it) and reboot";
        gpu.detail = "no NVIDIA GPU seen";
        gpu.fix = "on a machine without a GB10, set hardware = local or a profile for it";
        out.push_back(driver);
        out.push_back(gpu);
        return;
    }
    driver.detail = "driver " + table->driver_version + ", CUDA " +
                    (table->cuda_version.empty() ? "unknown" : table->cuda_version) +
                    " (the newest CUDA the driver supports)";
    bool gb10 = false;
    for (const std::string& name : table->gpu_names) {
        gb10 = gb10 || base::to_lower(name).find("gb10") != std::string::npos;
    }
    if (table->gpu_names.empty()) {
        gpu.status = Status::fail;
        gpu.detail = "nvidia-smi lists no GPU";
        gpu.fix = "check dmesg for NVRM errors; reboot";
    } else if (gb10) {
        gpu.detail = join(table->gpu_names, ", ") + ": GB10, unified memory";
    } else {
        gpu.status = Status::warn;
        gpu.detail = join(table->gpu_names, ", ") + ": not a GB10";
        gpu.fix =
            "the dgx-spark figures do not apply: set hardware = local or a profile for "
            "this GPU (sparkctl hw --list)";
    }
    out.push_back(driver);
    out.push_back(gpu);
}

}  // namespace sparkctl::doctor::detail
