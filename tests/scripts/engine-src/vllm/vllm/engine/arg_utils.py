# Synthetic fixture in the shape of vLLM's vllm/engine/arg_utils.py (written for sparkctl's tests;
# not vLLM code): explicit add_argument calls over get_kwargs(Config) groups, an alias, a dict
# merge, a BooleanOptionalAction and a store_true with a help text whose lines start with "-".
import argparse
from dataclasses import dataclass

from vllm.config import CacheConfig, ParallelConfig


@dataclass
class EngineArgs:
    model: str = "facebook/opt-125m"
    max_model_len: int | None = None
    gpu_memory_utilization: float = CacheConfig.gpu_memory_utilization
    kv_cache_memory_bytes: int | None = CacheConfig.kv_cache_memory_bytes
    enable_prefix_caching: bool | None = None
    kv_cache_dtype: str = "auto"
    tensor_parallel_size: int = ParallelConfig.tensor_parallel_size
    distributed_executor_backend: str | None = None
    prefix_caching_hash_algo: str = "sha256"
    disable_custom_all_reduce: bool = ParallelConfig.disable_custom_all_reduce

    @staticmethod
    def add_cli_args(parser):
        parser.add_argument("--model", type=str, default=EngineArgs.model)
        parser.add_argument("--max-model-len", type=int, default=None)

        parallel_kwargs = get_kwargs(ParallelConfig)
        parallel_group = parser.add_argument_group(title="ParallelConfig")
        parallel_group.add_argument(
            "--tensor-parallel-size", "-tp", **parallel_kwargs["tensor_parallel_size"]
        )
        parallel_group.add_argument(
            "--disable-custom-all-reduce", **parallel_kwargs["disable_custom_all_reduce"]
        )
        parallel_group.add_argument(
            "--distributed-executor-backend", **parallel_kwargs["distributed_executor_backend"]
        )

        cache_kwargs = get_kwargs(CacheConfig)
        cache_group = parser.add_argument_group(title="CacheConfig")
        cache_group.add_argument(
            "--gpu-memory-utilization", **cache_kwargs["gpu_memory_utilization"]
        )
        cache_group.add_argument(
            "--kv-cache-memory-bytes", **cache_kwargs["kv_cache_memory_bytes"]
        )
        cache_group.add_argument("--kv-cache-dtype", **cache_kwargs["cache_dtype"])
        cache_group.add_argument(
            "--prefix-caching-hash-algo", **cache_kwargs["prefix_caching_hash_algo"]
        )
        cache_group.add_argument(
            "--enable-prefix-caching",
            **{
                **cache_kwargs["enable_prefix_caching"],
                "default": None,
            },
        )
        return parser


@dataclass
class AsyncEngineArgs(EngineArgs):
    enable_log_requests: bool = False

    @staticmethod
    def add_cli_args(parser, async_args_only=False):
        if not async_args_only:
            parser = EngineArgs.add_cli_args(parser)
        parser.add_argument(
            "--enable-log-requests",
            action=argparse.BooleanOptionalAction,
            default=AsyncEngineArgs.enable_log_requests,
            help="Log requests, by level:\n"
            "- INFO: the request id.\n"
            "- DEBUG: the prompt.\n",
        )
        parser.add_argument(
            "--disable-log-stats", action="store_true", help="Disable logging statistics."
        )
        return parser
