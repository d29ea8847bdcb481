// router.h: model/alias -> deployment, and R-OPS-3 among resident deployments.
#include "serve/router.h"

#include <gtest/gtest.h>

namespace sparkctl::serve {
namespace {

using Kind = RouteDecision::Kind;

RouteCandidate cand(std::string id, std::vector<std::string> aliases, std::string engine,
                    bool resident, int in_flight = 0) {
    return {std::move(id), std::move(aliases), std::move(engine), resident, in_flight};
}

TEST(Router, UnknownAndEmptyModels) {
    const std::vector<RouteCandidate> c{cand("a", {"x"}, "vllm", true)};
    EXPECT_EQ(route("nope", c).kind, Kind::unknown);
    EXPECT_EQ(route("", c).kind, Kind::unknown);
    EXPECT_EQ(route("a", {}).kind, Kind::unknown);
}

TEST(Router, IdMatchWinsOverAliases) {
    const std::vector<RouteCandidate> c{cand("b", {"a"}, "vllm", true),
                                        cand("a", {}, "sglang", false)};
    const RouteDecision d = route("a", c);
    EXPECT_EQ(d.kind, Kind::not_loaded);
    EXPECT_EQ(d.id, "a");
}

TEST(Router, AliasOnIdleLlamaCppGoesThere) {
    const std::vector<RouteCandidate> c{cand("big-vllm", {"qwen"}, "vllm", true, 0),
                                        cand("qwen-gguf", {"qwen"}, "llama.cpp", true, 0)};
    const RouteDecision d = route("qwen", c);
    EXPECT_EQ(d.kind, Kind::resident);
    EXPECT_EQ(d.id, "qwen-gguf");
    EXPECT_FALSE(d.parallel_on_llamacpp);
}

TEST(Router, BusyLlamaCppSendsTheNextToTheParallelEngine) {
    const std::vector<RouteCandidate> c{cand("qwen-gguf", {"qwen"}, "llama.cpp", true, 1),
                                        cand("qwen-sg", {"qwen"}, "sglang", true, 3),
                                        cand("qwen-vllm", {"qwen"}, "vllm", true, 2)};
    const RouteDecision d = route("qwen", c);
    EXPECT_EQ(d.id, "qwen-vllm");  // the parallel engine with fewer in flight
    EXPECT_FALSE(d.parallel_on_llamacpp);
}

TEST(Router, OnlyResidentDeploymentsAreRoutedTo) {
    // The parallel engine is not loaded: the busy llama.cpp gets it, flagged for R-OPS-3.
    const std::vector<RouteCandidate> c{cand("qwen-gguf", {"qwen"}, "llama.cpp", true, 1),
                                        cand("qwen-vllm", {"qwen"}, "vllm", false)};
    const RouteDecision d = route("qwen", c);
    EXPECT_EQ(d.kind, Kind::resident);
    EXPECT_EQ(d.id, "qwen-gguf");
    EXPECT_TRUE(d.parallel_on_llamacpp);
}

TEST(Router, NothingResidentLoadsTheFirstConfigured) {
    const std::vector<RouteCandidate> c{cand("other", {}, "vllm", true),
                                        cand("qwen-gguf", {"qwen"}, "llama.cpp", false),
                                        cand("qwen-vllm", {"qwen"}, "vllm", false)};
    const RouteDecision d = route("qwen", c);
    EXPECT_EQ(d.kind, Kind::not_loaded);
    EXPECT_EQ(d.id, "qwen-gguf");
}

TEST(Router, ParallelLoadOnALlamaCppIdIsFlagged) {
    EXPECT_TRUE(route("g", {cand("g", {}, "llama.cpp", true, 2)}).parallel_on_llamacpp);
    EXPECT_FALSE(route("g", {cand("g", {}, "llama.cpp", true, 0)}).parallel_on_llamacpp);
    EXPECT_FALSE(route("v", {cand("v", {}, "vllm", true, 9)}).parallel_on_llamacpp);
}

}  // namespace
}  // namespace sparkctl::serve
