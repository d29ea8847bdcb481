// Always-on invariant checks. Never use on input or on the environment: those are Result errors.
#pragma once

namespace sparkctl::base {
[[noreturn]] void assert_fail(const char* expr, const char* file, int line);
}  // namespace sparkctl::base

#define SPARKCTL_ASSERT(cond) \
    ((cond) ? static_cast<void>(0) : ::sparkctl::base::assert_fail(#cond, __FILE__, __LINE__))
