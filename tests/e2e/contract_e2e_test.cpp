// The command-line contract of the reporting commands (docs/dev/cli.md, "JSON documents" and
// "Exit statuses"): the real binary in a temporary HOME. Each --json run prints exactly one
// document on stdout with the fields the docs promise; a failure of the environment exits 1 and
// bad input exits 2, both with {"error": {"code", "message"}} on stdout and the message on
// stderr, for every command.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "support/sandbox.h"

namespace sparkctl::test {
namespace {

namespace fs = std::filesystem;

void expect_keys(const nlohmann::json& j, const std::vector<const char*>& keys,
                 const std::string& what) {
    ASSERT_TRUE(j.is_object()) << what << ": " << j.dump();
    for (const char* k : keys) EXPECT_TRUE(j.contains(k)) << what << " lacks '" << k << "'";
}

// The error document: exit `code`, {"error": {"code": code, "message": M}} and nothing else on
// stdout, M non-empty and also on stderr.
void expect_error_document(const RunResult& r, int code, const std::string& what) {
    EXPECT_EQ(r.exit_code, code) << what << "\nstdout: " << r.out << "\nstderr: " << r.err;
    const nlohmann::json doc = r.json();
    ASSERT_TRUE(doc.is_object() && doc.size() == 1 && doc.contains("error"))
        << what << ": " << r.out;
    EXPECT_EQ(doc["error"].size(), 2u) << what << ": " << r.out;
    EXPECT_EQ(doc["error"]["code"], code) << what;
    ASSERT_TRUE(doc["error"]["message"].is_string()) << what;
    const std::string message = doc["error"]["message"];
    EXPECT_FALSE(message.empty()) << what;
    EXPECT_NE(r.err.find(message), std::string::npos) << what << ": stderr lacks the message\n"
                                                      << r.err;
}

TEST(ContractE2e, ModelsJsonListsTheCatalogWithSources) {
    Sandbox s;
    auto r = s.run({"models", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;
    const nlohmann::json doc = r.json();
    ASSERT_TRUE(doc["models"].is_array());
    ASSERT_GE(doc["models"].size(), 10u);
    std::set<std::string> ids;
    for (const auto& m : doc["models"]) {
        const std::string id = m.value("id", "");
        expect_keys(m,
                    {"id", "display_name", "hf_id", "aliases", "facts", "unknown", "sources",
                     "notes", "variants"},
                    "models[" + id + "]");
        EXPECT_TRUE(ids.insert(id).second) << "duplicate id " << id;
        EXPECT_FALSE(m["sources"].empty()) << id << ": every fact has a public source";
        ASSERT_TRUE(m["variants"].is_array()) << id;
        EXPECT_FALSE(m["variants"].empty()) << id;
        for (const auto& v : m["variants"]) {
            expect_keys(v,
                        {"format", "repo", "file", "size_bytes", "size_exact", "size_source",
                         "publisher", "source"},
                        id + " variant");
        }
        expect_keys(m["facts"],
                    {"architecture", "kind", "n_layers", "n_kv_heads", "head_dim",
                     "context_length_tokens", "params_total", "params_active"},
                    id + " facts");
    }
    EXPECT_EQ(ids.count("gpt-oss-120b"), 1u);
}

TEST(ContractE2e, InspectJsonOfACatalogModelAndOfAFile) {
    Sandbox s;
    auto r = s.run({"inspect", "gpt-oss-120b", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json doc = r.json();
    expect_keys(doc,
                {"name", "source", "hf_id", "files", "file_bytes", "weights_bytes", "arch", "quant",
                 "tensor_inventory", "n_tensors"},
                "inspect gpt-oss-120b");
    EXPECT_EQ(doc["source"], "catalog");
    EXPECT_EQ(doc["arch"]["n_layers"], 36);  // huggingface.co/openai/gpt-oss-120b config.json
    EXPECT_NE(doc["arch"]["kind"].get<std::string>().find("MoE"), std::string::npos)
        << doc["arch"]["kind"];
    EXPECT_TRUE(doc["arch"]["moe"].is_object()) << doc["arch"].dump();

    // A file: the tensor inventory adds up to the tensors read.
    auto gguf = s.home() / "tiny.gguf";
    auto mk = s.run({"dev", "make-gguf", "--arch", "llama", "--out", gguf.string(), "--layers", "2",
                     "--hidden", "256", "--heads", "4", "--kv-heads", "2", "--ff", "512", "--vocab",
                     "300"});
    ASSERT_EQ(mk.exit_code, 0) << mk.err;
    auto f = s.run({"inspect", gguf.string(), "--json"});
    ASSERT_EQ(f.exit_code, 0) << f.err;
    const nlohmann::json fd = f.json();
    EXPECT_EQ(fd["source"], "gguf");
    EXPECT_EQ(fd["files"], nlohmann::json::array({gguf.string()}));
    EXPECT_EQ(fd["arch"]["n_layers"], 2);
    EXPECT_EQ(fd["arch"]["n_kv_heads"], 2);
    std::uint64_t tensors = 0;
    for (const auto& row : fd["tensor_inventory"]) {
        expect_keys(row, {"kind", "dtype", "count", "n_elements", "bytes"}, "inventory row");
        tensors += row["count"].get<std::uint64_t>();
    }
    EXPECT_EQ(tensors, fd["n_tensors"].get<std::uint64_t>());
}

TEST(ContractE2e, HwJsonDetectsAndPrintsProfiles) {
    Sandbox s;
    auto detected = s.run({"hw", "--json"});
    ASSERT_EQ(detected.exit_code, 0) << detected.err;
    const nlohmann::json d = detected.json();
    ASSERT_TRUE(d.contains("detected")) << detected.out;
    expect_keys(d["detected"],
                {"memory_total_bytes", "memory_available_bytes", "swap_on", "swap_in_use",
                 "unified_memory", "cpu", "nvidia_smi_found", "gpus", "warnings"},
                "hw detected");
    EXPECT_GT(d["detected"]["memory_total_bytes"].get<std::uint64_t>(), 0u);

    auto spark = s.run({"hw", "--hardware", "dgx-spark", "--json"});
    ASSERT_EQ(spark.exit_code, 0) << spark.err;
    const nlohmann::json p = spark.json()["profile"];
    expect_keys(p,
                {"name", "description", "aliases", "unified_memory", "nodes", "memory_total_bytes",
                 "os_reserve_bytes", "budget_bytes", "memory_bandwidth_bytes_per_s",
                 "compute_dense", "gpu", "cpu", "interconnect", "sources"},
                "hw --hardware dgx-spark");
    EXPECT_EQ(p["name"], "dgx-spark");
    EXPECT_TRUE(p["unified_memory"].get<bool>());
    EXPECT_EQ(p["memory_bandwidth_bytes_per_s"], 273e9);  // docs/policy.md, Hardware
    EXPECT_EQ(
        p["budget_bytes"].get<std::uint64_t>(),
        p["memory_total_bytes"].get<std::uint64_t>() - p["os_reserve_bytes"].get<std::uint64_t>());

    auto list = s.run({"hw", "--list", "--json"});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    const nlohmann::json profiles = list.json()["profiles"];
    ASSERT_TRUE(profiles.is_array());
    EXPECT_GE(profiles.size(), 2u);
}

TEST(ContractE2e, DevValidateJsonHasRowsAndTheErrorBySplit) {
    Sandbox s;
    auto tsv = (source_dir() / "data" / "perf-measurements.tsv").string();
    auto r = s.run({"dev", "validate", tsv, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json doc = r.json();
    ASSERT_TRUE(doc["rows"].is_array());
    ASSERT_FALSE(doc["rows"].empty());
    for (const auto& row : doc["rows"]) {
        expect_keys(row,
                    {"line", "engine", "model", "quant", "test", "depth", "concurrency", "nodes",
                     "metric", "split", "measured_tokens_per_s", "predicted_tokens_per_s", "error",
                     "constants", "skipped"},
                    "validate row");
    }
    for (const char* cell : {"fit_decode", "fit_prefill", "holdout_decode", "holdout_prefill"}) {
        expect_keys(doc["summary"][cell], {"rows", "mdape"}, cell);
        EXPECT_GT(doc["summary"][cell]["rows"].get<int>(), 0) << cell;
        EXPECT_GE(doc["summary"][cell]["mdape"].get<double>(), 0.0) << cell;
    }
}

// Exit 1 is a failure of the environment: here an output path that cannot be written (a
// directory stands where the file should go; root cannot rename a file over it either).
TEST(ContractE2e, AnUnwritableOutputExitsOneWithTheErrorDocument) {
    Sandbox s;
    fs::create_directories(s.home() / "out.gguf");
    auto mk = s.run({"dev", "make-gguf", "--arch", "llama", "--out",
                     (s.home() / "out.gguf").string(), "--json"});
    expect_error_document(mk, 1, "make-gguf onto a directory");
    EXPECT_NE(mk.err.find("out.gguf"), std::string::npos) << mk.err;

    fs::create_directories(s.home() / "constants.toml");
    auto tsv = (source_dir() / "data" / "perf-measurements.tsv").string();
    auto cal =
        s.run({"dev", "calibrate", tsv, "--out", (s.home() / "constants.toml").string(), "--json"});
    expect_error_document(cal, 1, "calibrate --out onto a directory");
    EXPECT_NE(cal.err.find("constants.toml"), std::string::npos) << cal.err;
}

// Bad input to every command: exit 2, the error document on stdout, the message on stderr.
TEST(ContractE2e, BadInputToEveryCommandIsExitTwoWithTheErrorDocument) {
    Sandbox s;
    const std::string missing = (s.home() / "missing.file").string();
    auto bad_config = s.write("bad.toml", "hardware = = 1\n");
    struct Case {
        std::vector<std::string> args;
        std::string in_message;  // names the input
    };
    const std::vector<Case> cases = {
        {{"plan", "no-such-model", "--for", "chat"}, "no-such-model"},
        {{"plan", "gpt-oss-120b"}, "--for"},
        {{"plan", "gpt-oss-120b", "--users", "0"}, "users"},
        {{"fit", "no-such-model"}, "no-such-model"},
        {{"fit", "gpt-oss-120b", "--quant", "q9_z"}, "q9_z"},
        {{"models", "extra-argument"}, "extra-argument"},
        {{"inspect", missing}, "missing.file"},
        {{"inspect"}, "MODEL"},
        {{"hw", "--hardware", "no-such-box"}, "no-such-box"},
        {{"--config", bad_config.string(), "config", "show"}, "bad.toml"},
        {{"--config", missing, "config", "show"}, "missing.file"},
        {{"config", "show", "--log-level", "bogus"}, "bogus"},
        {{"project", "new", "a/b"}, "'/'"},
        {{"project", "list", "--claude-home", "relative"}, "relative"},
        {{"project", "index", "--github-root", "relative"}, "relative"},
        {{"project", "save-plan", "two words"}, "3 or 4"},
        {{"activity", "add", "--type", "chore", "x"}, "chore"},
        {{"activity", "add", "--type", "discovery", "x", "--read-tokens", "-5"}, "--read-tokens"},
        {{"activity", "render", missing}, "missing.file"},
        {{"dev", "validate", missing}, "missing.file"},
        {{"dev", "calibrate", missing}, "missing.file"},
        {{"dev", "make-gguf", "--arch", "no-such-arch", "--out", "x.gguf"}, "no-such-arch"},
        {{"dev", "validate", (source_dir() / "data" / "perf-measurements.tsv").string(),
          "--constants", missing},
         "missing.file"},
    };
    for (const Case& c : cases) {
        std::vector<std::string> args = c.args;
        args.push_back("--json");
        std::string what;
        for (const auto& a : args) what += a + " ";
        auto r = s.run(args, "text");
        expect_error_document(r, 2, what);
        const nlohmann::json doc = nlohmann::json::parse(r.out, nullptr, false);
        if (!doc.is_discarded() && doc.contains("error")) {
            EXPECT_NE(doc["error"]["message"].get<std::string>().find(c.in_message),
                      std::string::npos)
                << what << ": " << doc["error"]["message"];
        }
    }
}

}  // namespace
}  // namespace sparkctl::test
