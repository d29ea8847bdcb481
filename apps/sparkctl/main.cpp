#include "cli/cli.h"

int main(int argc, char** argv) { return sparkctl::cli::run(argc, argv); }
