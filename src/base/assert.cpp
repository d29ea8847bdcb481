#include "base/assert.h"

#include <cstdio>
#include <cstdlib>

namespace sparkctl::base {

void assert_fail(const char* expr, const char* file, int line) {
    std::fprintf(stderr, "sparkctl: internal error: assertion '%s' failed at %s:%d\n", expr, file,
                 line);
    std::abort();
}

}  // namespace sparkctl::base
