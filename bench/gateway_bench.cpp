// gateway_bench: sparkctl's Gateway (src/serve/gateway.h) in its own process, in front of engines
// already running, for bench/gateway_bench.sh (issue 14, "Tests and numbers"). A static
// Registry: every deployment is resident from the start and points at its engine, so the
// gateway's relay path is measured alone (no admission, no load).
// Usage: gateway_bench [--io-threads N] ID=PORT...   (each ID is also the engine's served name)
// Prints "gateway listening on port N" once bound, serves until SIGTERM or SIGINT, then stops.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "serve/gateway.h"

namespace {

using namespace sparkctl;

class StaticRegistry : public serve::Registry {
  public:
    explicit StaticRegistry(std::vector<serve::DeploymentView> views) : views_(std::move(views)) {}
    std::vector<serve::DeploymentView> deployments() override { return views_; }
    serve::MemoryView memory() override { return {}; }
    void ensure_ready(const std::string& id,
                      std::function<void(base::Result<serve::Upstream>)> done) override {
        for (const auto& v : views_) {
            if (v.id == id) return done(*v.upstream);
        }
        done(base::make_error(base::Errc::not_found, "no deployment " + id));
    }
    bool request_started(const std::string&) override { return true; }
    void request_finished(const std::string&) override {}
    nlohmann::json status() override { return nlohmann::json::object(); }
    std::vector<std::string> log_tail(const std::string&, std::size_t) override { return {}; }

  private:
    const std::vector<serve::DeploymentView> views_;
};

int usage(const std::string& why) {
    std::fprintf(stderr, "gateway_bench: %s\nusage: gateway_bench [--io-threads N] ID=PORT...\n",
                 why.c_str());
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    serve::GatewayOptions options;
    options.max_connections = 16'384;
    options.max_streams = 16'384;
    std::vector<serve::DeploymentView> views;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--io-threads" && i + 1 < argc) {
            options.io_threads = std::atoi(argv[++i]);
            if (options.io_threads < 1) return usage("--io-threads: not a positive number");
            continue;
        }
        const auto eq = arg.find('=');
        const int port = eq == std::string::npos ? 0 : std::atoi(arg.c_str() + eq + 1);
        if (eq == 0 || port <= 0 || port > 65535) return usage("'" + arg + "': not ID=PORT");
        serve::DeploymentView v;
        v.id = arg.substr(0, eq);
        v.model = v.id;
        v.engine = "vllm";
        v.state = "ready";
        v.upstream = serve::Upstream{v.id, "vllm", "127.0.0.1", port, "", v.id};
        views.push_back(std::move(v));
    }
    if (views.empty()) return usage("no deployment given");

    // Block the stop signals before any thread starts, so only sigwait below receives them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    StaticRegistry registry(std::move(views));
    auto gateway = serve::Gateway::create(options, registry);
    if (!gateway.ok()) return usage(gateway.error().message);
    if (auto started = (*gateway)->start(); !started.ok()) {
        std::fprintf(stderr, "gateway_bench: %s\n", started.error().message.c_str());
        return 1;
    }
    std::printf("gateway listening on port %u\n", static_cast<unsigned>((*gateway)->port()));
    std::fflush(stdout);
    int sig = 0;
    sigwait(&stop_signals, &sig);
    (*gateway)->stop(1000);
    return 0;
}
