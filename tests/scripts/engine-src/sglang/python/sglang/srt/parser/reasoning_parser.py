# Synthetic fixture in the shape of SGLang's reasoning_parser.py (not SGLang code).
class ReasoningParser:
    DetectorMap: Dict[str, Type[BaseReasoningFormatDetector]] = {
        "qwen3": Qwen3Detector,
    }
