// The project template (R-WS-4): .aidocs/ with organised subfolders, each with a README saying
// what belongs there, and a short CLAUDE.md that points into .aidocs/ (progressive disclosure).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sparkctl::workspace {

struct TemplateFile {
    std::string relative_path;  // "CLAUDE.md", ".aidocs/codebase/README.md", ...
    std::string contents;
};

// The .aidocs/ subfolders, in the order CLAUDE.md lists them.
struct AidocsFolder {
    const char* name;     // "codebase"
    const char* purpose;  // one line for CLAUDE.md's table
};
const std::vector<AidocsFolder>& aidocs_folders();

// The template files for project `name`; `description` ("" for none) goes under CLAUDE.md's
// title. Pure. CLAUDE.md ends with an empty <claude-mem-context> block for
// `sparkctl activity render`.
std::vector<TemplateFile> project_template(std::string_view name, std::string_view description);

}  // namespace sparkctl::workspace
