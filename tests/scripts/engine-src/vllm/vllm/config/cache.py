# Synthetic fixture in the shape of vLLM's vllm/config/cache.py (written for sparkctl's tests;
# not vLLM code): a config dataclass whose field types decide switches and --no- forms.
from dataclasses import field
from typing import Literal

CacheDType = Literal[
    "auto",
    "bfloat16",
    "fp8",
]
PrefixCachingHashAlgo = Literal["sha256", "xxhash"]

@config
class CacheConfig:
    """Configuration for the KV cache."""

    gpu_memory_utilization: float = 0.9
    """The fraction of GPU memory to use."""
    kv_cache_memory_bytes: int | None = None
    enable_prefix_caching: bool = True
    """Whether to enable prefix caching."""
    cache_dtype: CacheDType = "auto"
    prefix_caching_hash_algo: PrefixCachingHashAlgo = "sha256"
