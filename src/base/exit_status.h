// Process exit statuses: the contract in docs/ARCHITECTURE.md ("Contracts").
#pragma once

#include "base/result.h"

namespace sparkctl::base {

enum ExitStatus : int {
    kExitOk = 0,
    kExitFailure = 1,     // the environment or a bug
    kExitBadInput = 2,    // usage, bad input, or a plan refused by an operational rule
    kExitDoesNotFit = 3,  // fit/plan: the request does not fit the budget
    kExitWanting = 4,     // checked and found wanting (simulate --slo that no load meets)
};

inline int exit_status_for(Errc code) {
    switch (code) {
        case Errc::bad_input:
        case Errc::not_found:
            return kExitBadInput;
        case Errc::does_not_fit:
            return kExitDoesNotFit;
        case Errc::io:
        case Errc::internal:
            return kExitFailure;
    }
    return kExitFailure;
}

}  // namespace sparkctl::base
