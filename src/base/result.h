// Result<T>: expected failures as values (GCC 12 in C++20 mode has no std::expected).
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "base/assert.h"

namespace sparkctl::base {

// What kind of failure; decides the process exit status (see base/exit_status.h).
enum class Errc {
    bad_input,     // malformed or hostile input, unknown name, bad flag value: exit 2
    not_found,     // a named file, model or profile does not exist: exit 2
    does_not_fit,  // the request does not fit the memory budget (plan, admission): exit 3
    io,            // the environment failed us (read error, permission): exit 1
    internal,      // a bug or an unexpected state: exit 1
};

struct Error {
    Errc code = Errc::internal;
    // Names the input and what was being done, e.g.
    // "model.gguf: tensor 'blk.3.attn_q.weight': offset past end of file".
    std::string message;
};

[[nodiscard]] inline Error make_error(Errc code, std::string message) {
    return Error{code, std::move(message)};
}

// Prefixes the message with context ("file.gguf: " + message); keeps the code.
[[nodiscard]] inline Error with_context(Error e, const std::string& context) {
    e.message = context + ": " + e.message;
    return e;
}

template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
    Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & {
        SPARKCTL_ASSERT(ok());
        return std::get<0>(v_);
    }
    const T& value() const& {
        SPARKCTL_ASSERT(ok());
        return std::get<0>(v_);
    }
    T&& value() && {
        SPARKCTL_ASSERT(ok());
        return std::get<0>(std::move(v_));
    }
    const Error& error() const {
        SPARKCTL_ASSERT(!ok());
        return std::get<1>(v_);
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

  private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const {
        SPARKCTL_ASSERT(!ok_);
        return error_;
    }

  private:
    Error error_;
    bool ok_ = true;
};

}  // namespace sparkctl::base

// Propagates an error from an expression returning Result<...>.
#define SPARKCTL_TRY(expr)                                         \
    do {                                                           \
        auto&& sparkctl_try_r_ = (expr);                           \
        if (!sparkctl_try_r_.ok()) return sparkctl_try_r_.error(); \
    } while (0)
