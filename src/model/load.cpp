#include "model/load.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <vector>

#include "base/file.h"
#include "base/strings.h"
#include "model/catalog.h"
#include "model/gguf.h"
#include "model/model_dir.h"

namespace sparkctl::model {

namespace {

namespace fs = std::filesystem;
using base::Errc;
using base::make_error;

bool has_extension(const fs::path& p, std::string_view ext) {
    return base::iequals(p.extension().string(), ext);
}

// GGUF files in a directory that holds no safetensors checkpoint; split sets count once.
std::vector<fs::path> gguf_models_in(const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (!e.is_regular_file(ec) || !has_extension(e.path(), ".gguf")) continue;
        // A split set is represented by its first shard.
        auto split = parse_gguf_split_name(e.path().filename().string());
        if (split && split->no != 1) continue;
        out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

bool is_checkpoint_dir(const fs::path& dir) {
    std::error_code ec;
    if (fs::exists(dir / "config.json", ec) || fs::exists(dir / "snapshots", ec) ||
        fs::exists(dir / "model.safetensors.index.json", ec)) {
        return true;
    }
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (has_extension(e.path(), ".safetensors")) return true;
    }
    return false;
}

base::Result<ModelSpec> load_directory(const fs::path& dir) {
    if (is_checkpoint_dir(dir)) return load_model_dir(dir);
    std::vector<fs::path> ggufs = gguf_models_in(dir);
    if (ggufs.size() == 1) return load_gguf(ggufs.front());
    if (ggufs.empty()) {
        return make_error(Errc::bad_input,
                          dir.string() +
                              ": no model here (expected config.json, *.safetensors, "
                              "*.gguf or a Hugging Face cache directory)");
    }
    std::string names;
    for (const auto& p : ggufs) names += (names.empty() ? "" : ", ") + p.filename().string();
    return make_error(Errc::bad_input,
                      dir.string() + ": several GGUF models here (" + names + "); name one");
}

base::Result<ModelSpec> load_file(const fs::path& path) {
    if (has_extension(path, ".gguf")) return load_gguf(path);
    if (has_extension(path, ".safetensors")) return load_safetensors(path);
    if (path.filename() == "model.safetensors.index.json")
        return load_model_dir(path.parent_path());
    if (has_extension(path, ".json")) return load_config_json(path);
    // No telling extension: recognise a GGUF by its magic.
    auto file = base::RandomAccessFile::open(path);
    if (!file) return file.error();
    std::string magic;
    if (file->size() >= 4 && file->read_at(0, 4, magic).ok() && magic == "GGUF") {
        return load_gguf(path);
    }
    return make_error(Errc::bad_input, path.string() +
                                           ": not a model file (expected .gguf, .safetensors or "
                                           "config.json)");
}

bool looks_like_path(std::string_view arg) {
    return arg.starts_with("/") || arg.starts_with("./") || arg.starts_with("../") ||
           arg.starts_with("~") || arg.ends_with(".gguf") || arg.ends_with(".safetensors") ||
           arg.ends_with(".json");
}

}  // namespace

base::Result<ModelSpec> load_model(std::string_view arg) {
    if (arg.empty()) return make_error(Errc::bad_input, "empty model name");
    fs::path path{std::string(arg)};
    std::error_code ec;
    fs::file_status st = fs::status(path, ec);
    if (fs::is_directory(st)) return load_directory(path);
    if (fs::is_regular_file(st)) return load_file(path);
    if (fs::exists(st)) {
        return make_error(Errc::bad_input, path.string() + ": not a regular file or directory");
    }

    if (const CatalogEntry* entry = find_model(arg)) return entry->spec;

    if (looks_like_path(arg)) {
        return make_error(Errc::not_found, std::string(arg) + ": no such file or directory");
    }
    std::string message =
        "unknown model '" + base::printable(arg) + "': not a file, and not in the catalog";
    std::vector<std::string> close = suggest_models(arg);
    if (!close.empty()) {
        message += "; did you mean ";
        for (std::size_t i = 0; i < close.size(); ++i) {
            message += (i == 0 ? "" : i + 1 == close.size() ? " or " : ", ") + close[i];
        }
        message += "?";
    }
    message += " (sparkctl models lists the catalog)";
    return make_error(Errc::not_found, message);
}

}  // namespace sparkctl::model
