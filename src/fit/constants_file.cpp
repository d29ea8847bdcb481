#include "fit/constants_file.h"

#include <fmt/format.h>

#include "base/file.h"
#include "base/strings.h"
#include "fit/calibration.h"

namespace sparkctl::fit {

namespace {

// A constants file is a few kilobytes; the cap only stops a wrong path from being slurped.
constexpr std::uint64_t kMaxConstantsFileBytes = 4u << 20;

base::Result<ConstantsTable> read_table(const std::filesystem::path& path,
                                        std::string_view option) {
    auto text = base::read_file(path, kMaxConstantsFileBytes);
    if (!text) {
        const std::string hint =
            option == "local" ? " (write it with `sparkctl calibrate`, or set constants = builtin)"
                              : "";
        return base::make_error(base::Errc::bad_input,
                                fmt::format("constants = {}: cannot read the constants file: {}{}",
                                            option, text.error().message, hint));
    }
    auto table = parse_constants_toml(*text, path.string());
    if (!table) {
        return base::make_error(base::Errc::bad_input,
                                fmt::format("constants = {}: {}", option, table.error().message));
    }
    return table;
}

}  // namespace

std::filesystem::path local_constants_path(const std::filesystem::path& data_dir) {
    return data_dir / kLocalConstantsFileName;
}

std::string provenance_summary(const ConstantsProvenance& p) {
    std::string s = fmt::format("calibrated on {} local run{}", p.runs, p.runs == 1 ? "" : "s");
    if (p.holdout_error) return s + fmt::format(", holdout error {:.1f}%", *p.holdout_error * 100);
    return s + ", no holdout rows";
}

base::Result<ConstantsTable> load_constants(std::string_view choice,
                                            const std::filesystem::path& data_dir) {
    if (choice.empty()) {
        return base::make_error(base::Errc::bad_input,
                                "constants: empty; expected builtin, local or a file path");
    }
    if (choice == "builtin") return builtin_constants();
    if (choice == "local") {
        auto t = read_table(local_constants_path(data_dir), choice);
        if (!t) return t.error();
        t->label = t->provenance ? "local: " + provenance_summary(*t->provenance)
                                 : "local: " + local_constants_path(data_dir).string();
        return t;
    }
    const std::filesystem::path path{std::string(choice)};
    auto t = read_table(path, base::printable(choice, 1024));
    if (!t) return t.error();
    t->label = "file " + path.string();
    if (t->provenance) t->label += ": " + provenance_summary(*t->provenance);
    return t;
}

}  // namespace sparkctl::fit
