// The workload vocabulary (design.md "Contracts"), declared once for the commands that take it
// (`simulate`, `bench run`), and the one path from its flags to a sim::Load.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "base/result.h"
#include "sim/simulator.h"
#include "sim/workload.h"

namespace sparkctl::cli {

struct WorkloadFlags {
    std::string concurrency;
    std::string rate;
    std::string arrivals = "poisson";
    double think_s = 0;
    std::string prompt_tokens = "512";
    std::string output_tokens = "256";
    std::string trace;
    std::string dataset;
    std::optional<std::uint64_t> requests;
    std::optional<double> duration_s;
    std::uint64_t seed = 0;
    std::string slo;
    bool find_max = false;
};

// What each command says of the flags whose meaning differs between them.
struct WorkloadHelp {
    std::string trace;
    std::string dataset;  // empty: the command has no --dataset
    std::string duration;
    std::string find_max;
};

// Declares the workload flags on `app`.
void add_workload_flags(CLI::App& app, WorkloadFlags& w, const WorkloadHelp& help);

// The flags as a load: `loads` the points of a sweep (one point, 1, when none is given),
// `load_name` "concurrency", "rate_per_s" or "trace". Errors (bad_input): a bad size, arrival
// process, load list, trace, dataset or SLO (each naming its flag or file), exclusive flags
// given together, --find-max without --slo or with --trace.
struct Workload {
    sim::Load load;
    std::vector<double> loads{1};
    std::string load_name = "concurrency";
    std::vector<sim::SloTerm> slo;
};
base::Result<Workload> parse_workload(const WorkloadFlags& w);

// The `workload` object of a --json document: the flags as given (sizes null when a dataset
// set them, with the dataset's file and entry count).
nlohmann::json workload_json(const WorkloadFlags& w, const Workload& parsed);

// Puts the points of a run into `doc`: one point's fields at the top level, or a `sweep` array
// of them (design.md: a list-valued load is a sweep).
void put_points(nlohmann::json& doc, const std::vector<nlohmann::json>& points);

}  // namespace sparkctl::cli
