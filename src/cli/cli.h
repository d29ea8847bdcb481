// The command-line interface: parses argv, runs one command, returns the exit status.
#pragma once

namespace sparkctl::cli {

// Never throws; every failure becomes a message on stderr (and {"error": ...} on stdout under
// --json) and an exit status from base/exit_status.h.
int run(int argc, char** argv);

}  // namespace sparkctl::cli
