// The built-in model catalog: architecture facts and published checkpoints ("variants") of
// popular models, compiled into the binary from data/catalog.json. Every fact carries or inherits
// a public source; a fact that could not be sourced is absent (unknown) and named in `unknown`.
// Schema, sourcing rule and how to add a model: docs/dev/catalog.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "model/model_spec.h"

namespace sparkctl::model {

// A published checkpoint of a catalog model.
struct Variant {
    std::string format;  // canonical: bf16, fp16, fp8, awq, gptq, nvfp4, mxfp4, or a GGUF type in
                         // llama.cpp's spelling (Q4_K_M, Q8_0, MXFP4, ...)
    std::string repo;    // Hugging Face repository id, "ggml-org/gpt-oss-120b-GGUF"
    std::string file;    // GGUF file name or glob over shards; empty for a safetensors repo
    std::optional<std::uint64_t> size_bytes;  // total bytes of the checkpoint, when published
    bool size_exact = false;  // false: size_bytes is a rounded published figure (GB, GiB)
    std::string size_source;  // citation for size_bytes
    std::string publisher;    // "NVIDIA", "Unsloth", ...
    std::string source;       // citation that the checkpoint exists (URL or repository path)
};

struct CatalogEntry {
    std::string id;            // "gpt-oss-120b"
    std::string display_name;  // "gpt-oss-120b", "Llama-3.1-8B-Instruct"
    std::vector<std::string> aliases;
    ModelSpec spec;  // source = catalog, name = id, hf_id, arch (unknown facts are nullopt)
    std::vector<Variant> variants;
    // Citations by key: "config" (default for architecture facts), "params" (default for
    // params_total/params_active), "family", and per-field overrides ("n_mtp_layers",
    // "moe.shared_expert_intermediate_size", ...).
    std::map<std::string, std::string> sources;
    std::vector<std::string> unknown;  // facts not found in a public source, by field name
    std::string notes;

    // The citation for `field` (an Arch member name, dotted for sub-structs: "moe.n_experts"):
    // its own entry, else its parent's ("moe"), else "params"/"family" where they apply, else
    // "config". Never empty for a parsed entry.
    const std::string& source_for(std::string_view field) const;
};

// Parses a catalog document (the schema of data/catalog.json). Fails with Errc::bad_input naming
// the model and field on malformed JSON, a missing id/hf_id/config source, a variant without
// format, repo or source, a non-canonical format, a layer layout that does not expand to
// n_layers, or a name (id, alias, hf_id) claimed by two models.
base::Result<std::vector<CatalogEntry>> parse_catalog(std::string_view json_text);

// The embedded catalog, parsed once on first use (thread-safe static initialization). The data is
// ours: a parse failure is a bug, reported by SPARKCTL_ASSERT (and caught by catalog_test).
const std::vector<CatalogEntry>& catalog();

// Finds a model by id, alias, hf_id or a variant's repository id, case-insensitively, ignoring a
// leading "https://", "hf.co/" or "huggingface.co/". nullptr when nothing matches. The pointer
// stays valid for the life of the process.
const CatalogEntry* find_model(std::string_view name);

// The checkpoints published for `spec`: its catalog entry's variants when it was loaded from the
// catalog; empty for a file or directory (which is its own checkpoint).
std::vector<Variant> published_variants(const ModelSpec& spec);

// The checkpoint `name` (a MODEL argument) names: the repository of one of `spec`'s published
// variants other than the model's own id ("Qwen/Qwen3-Coder-30B-A3B-Instruct-FP8"), spelled as in
// the catalog; "" when `name` names the model (id, alias, hf_id) or `spec` is not from the catalog.
std::string named_checkpoint(std::string_view name, const ModelSpec& spec);

// Up to `max_results` catalog ids closest to `name` (edit distance over ids and aliases, and
// substring matches), best first; empty when nothing is reasonably close. For "unknown model 'X';
// did you mean ...".
std::vector<std::string> suggest_models(std::string_view name, std::size_t max_results = 3);

// The normalized form find_model compares: lower case, trimmed, URL/host prefix removed.
std::string normalize_model_name(std::string_view name);

}  // namespace sparkctl::model
