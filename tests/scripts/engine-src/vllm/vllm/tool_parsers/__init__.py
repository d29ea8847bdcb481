# Synthetic fixture in the shape of vLLM's vllm/tool_parsers/__init__.py (not vLLM code).
_TOOL_PARSERS_TO_REGISTER = {
    "hermes": (  # name
        "hermes_tool_parser",  # filename
        "HermesToolParser",  # class_name
    ),
    "openai": ("openai_tool_parser", "OpenAIToolParser"),
}
