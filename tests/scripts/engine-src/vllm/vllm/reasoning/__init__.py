# Synthetic fixture in the shape of vLLM's vllm/reasoning/__init__.py (not vLLM code).
_REASONING_PARSERS_TO_REGISTER = {
    "qwen3": ("qwen3_reasoning_parser", "Qwen3ReasoningParser"),
}
