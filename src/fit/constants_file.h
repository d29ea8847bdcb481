// Which performance-model constants fit, plan and simulate use: config option `constants`
// (docs/dev/config.md), `builtin` (data/perf-constants.toml, compiled in), `local` (the table
// `sparkctl calibrate` fitted to this machine's benchmark runs, in the data directory) or the
// path of a constants file in the same TOML format. docs/dev/performance-model.md ("Local
// calibration").
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "base/result.h"
#include "fit/performance.h"

namespace sparkctl::fit {

// The local constants file in the data directory: `$XDG_DATA_HOME/sparkctl/perf-constants.toml`.
inline constexpr std::string_view kLocalConstantsFileName = "perf-constants.toml";
std::filesystem::path local_constants_path(const std::filesystem::path& data_dir);

// What predictions add to their constants' source for a calibrated table: "calibrated on 3
// local runs, holdout error 2.1%" ("..., no holdout rows" when none).
std::string provenance_summary(const ConstantsProvenance& p);

// Loads the table `choice` names, with its label (ConstantsTable::label): "" for builtin,
// "local: calibrated on N local runs, holdout error X%", "file PATH[: calibrated on ...]".
// Errors (bad_input), naming the file: a missing or unreadable file (for `local`: run `sparkctl
// calibrate`), a malformed one (parse_constants_toml's message); an empty choice.
base::Result<ConstantsTable> load_constants(std::string_view choice,
                                            const std::filesystem::path& data_dir);

}  // namespace sparkctl::fit
