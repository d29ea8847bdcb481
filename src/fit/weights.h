// Weights without a file: the tensor inventory an architecture implies (llama.cpp tensor names
// and shapes, LC:src/llama-arch.cpp, LC:src/llama-model.cpp) priced by a quantization's rules.
#pragma once

#include <cstdint>
#include <vector>

#include "base/result.h"
#include "fit/quant.h"
#include "model/model_spec.h"

namespace sparkctl::fit {

// The weight tensors of `arch` in llama.cpp naming, BF16, shapes in ggml order, MTP blocks
// included (they are kept by converters and loaded by engines). Errors: bad_input naming the
// missing fact (hidden_size, n_layers, n_heads, vocab_size, an FFN width) when the architecture
// is too incomplete to build.
base::Result<std::vector<model::Tensor>> synthesize_tensors(const model::Arch& arch);

struct WeightsEstimate {
    std::uint64_t bytes = 0;
    std::uint64_t n_params = 0;
    std::vector<model::Tensor> tensors;  // priced: dtype and bytes set
    bool from_params_only = false;       // no inventory: params_total x bits per weight
};

// Weights of `arch` quantized as `q`. Falls back to params_total x the format's nominal bits
// per weight (LC:ggml/src/ggml-common.h, V:vllm/model_executor/layers/quantization/) when the
// inventory cannot be built; errors (bad_input) when neither is possible.
base::Result<WeightsEstimate> estimate_weights(const model::Arch& arch, const Quant& q);

}  // namespace sparkctl::fit
