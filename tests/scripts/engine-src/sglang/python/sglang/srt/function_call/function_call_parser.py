# Synthetic fixture in the shape of SGLang's function_call_parser.py (not SGLang code).
class FunctionCallParser:
    ToolCallParserEnum: Dict[str, Type[BaseFormatDetector]] = {
        "qwen25": Qwen25Detector,
        "gpt-oss": GptOssDetector,
    }
