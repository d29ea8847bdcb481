// Separate from roots.cpp so that code and tests using only Roots do not link the config module.
#include <cstdlib>

#include "config/config.h"
#include "workspace/roots.h"

namespace sparkctl::workspace {

base::Result<Roots> roots_from_config(const config::Config& cfg) {
    const char* home = std::getenv("HOME");
    Roots roots;
    std::filesystem::path* targets[] = {&roots.github_root, &roots.claude_home, &roots.data_dir};
    const char* keys[] = {"github_root", "claude_home", "data_dir"};
    for (int i = 0; i < 3; ++i) {
        const config::Setting& s = cfg.get(keys[i]);
        std::filesystem::path p = expand_home(s.value, home);
        std::string from = s.where.empty() ? "" : " (from " + s.where + ")";
        if (s.value.empty()) {
            return base::make_error(base::Errc::bad_input,
                                    std::string(keys[i]) + ": empty path" + from);
        }
        if (!p.is_absolute()) {
            return base::make_error(base::Errc::bad_input, std::string(keys[i]) + ": '" + s.value +
                                                               "' is not an absolute path" + from);
        }
        *targets[i] = p.lexically_normal();
    }
    return roots;
}

}  // namespace sparkctl::workspace
