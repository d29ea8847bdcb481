// sparkctl inspect MODEL: the facts and tensor inventory of a catalog model or a file.
#include "cli/command.h"
#include "cli/model_json.h"
#include "model/load.h"

namespace sparkctl::cli {

Action setup_inspect(CLI::App& app, Context&) {
    auto model_arg = std::make_shared<std::string>();
    app.add_option("MODEL", *model_arg,
                   "Catalog name or HF id, a .gguf/.safetensors/config.json file, a model "
                   "directory or a Hugging Face cache directory")
        ->required();
    return [model_arg](Context& c) -> int {
        auto spec = model::load_model(*model_arg);
        if (!spec) return c.out.fail(spec.error());
        if (c.out.json) {
            c.out.emit_json(spec_json(*spec));
        } else {
            c.out.emit_text(spec_text(*spec));
        }
        return 0;
    };
}

}  // namespace sparkctl::cli
