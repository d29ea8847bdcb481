# Synthetic fixture in the shape of vLLM's vllm/config/parallel.py (not vLLM code).
from typing import Literal

DistributedExecutorBackend = Literal["ray", "mp"]


@config
class ParallelConfig:
    tensor_parallel_size: int = 1
    disable_custom_all_reduce: bool = False
    distributed_executor_backend: (DistributedExecutorBackend | type[Executor] | None) = None
