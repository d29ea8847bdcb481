# Synthetic fixture in the shape of SGLang's python/sglang/srt/server_args.py of 2026 (written for
# sparkctl's tests; not SGLang code): dataclass fields annotated A[type, help | Arg(...), NS(...)]
# that add_cli_args_from_dataclass turns into --field-name, plus hand-written add_argument calls.
import argparse
import dataclasses
from typing import List, Literal, Optional

from sglang.srt.arg_groups.arg_utils import A, NS, Arg, add_cli_args_from_dataclass

ATTENTION_BACKEND_CHOICES = [
    "triton",
    "flashinfer",
]


@dataclasses.dataclass
class ServerArgs:
    model_path: A[
        str,
        Arg(
            help="The path of the model weights.",
            aliases=["--model"],
        ),
        NS("model"),
    ]
    host: A[str, "The host of the HTTP server.", NS("serving")] = "127.0.0.1"
    port: A[int, "The port of the HTTP server.", NS("serving")] = 30000
    context_length: A[Optional[int], "The model's maximum context length.", NS("model")] = None
    tp_size: A[
        int, Arg(help="The tensor parallelism size.", aliases=["--tensor-parallel-size"]), NS("p")
    ] = 1
    disable_radix_cache: A[bool, "Disable RadixAttention for prefix caching.", NS("cache")] = False
    enable_metrics: A[bool | None, Arg(help="Enable Prometheus metrics."), NS("obs")] = False
    kv_cache_dtype: A[
        Literal["auto", "fp8_e4m3", "fp8_e5m2"], "Data type for the KV cache.", NS("cache")
    ] = "auto"
    api_keys: A[List[str], "API keys.", NS("serving")] = dataclasses.field(default_factory=list)
    attention_backend: A[
        Optional[str],
        Arg(help="Attention kernels.", cli_name="--attention-backend", choices=ATTENTION_BACKEND_CHOICES),
        NS("k"),
    ] = None
    internal_state: A[int, Arg(help="Set from Python only.", no_cli=True), NS("x")] = 0
    reasoning_parser: Optional[str] = None
    tool_call_parser: Optional[str] = None
    old_switch: A[bool, Arg(help="Deprecated.", action=DeprecatedStoreTrueAction), NS("x")] = False

    @staticmethod
    def add_cli_args(parser: argparse.ArgumentParser):
        add_cli_args_from_dataclass(parser, ServerArgs)
        parser.add_argument(
            "--reasoning-parser",
            type=str,
            choices=["auto"] + list(ReasoningParser.DetectorMap.keys()),
            default=ServerArgs.reasoning_parser,
            help="Specify the parser for reasoning models.",
        )
        parser.add_argument(
            "--tool-call-parser",
            type=str,
            default=ServerArgs.tool_call_parser,
            help="Specify the parser for tool calls.",
        )
        parser.add_argument(
            "--enable-cache-report",
            action=argparse.BooleanOptionalAction,
            help="Report cached tokens.",
        )
        parser.add_argument(
            "--disable-flashinfer",
            action=DeprecatedAction,
            help="Deprecated: use --attention-backend.",
        )
