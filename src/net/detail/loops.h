// Private to net: a shared-loop Client reaches its Server's event loops through this.
#pragma once

#include <vector>

#include "net/server.h"

namespace boost::asio {
class io_context;
}

namespace sparkctl::net::detail {

struct ServerAccess {
    // The server's io_contexts, one per io thread; they exist from the Server's construction
    // to its destruction and run between start() and stop().
    static std::vector<boost::asio::io_context*> loops(Server& server);
};

}  // namespace sparkctl::net::detail
