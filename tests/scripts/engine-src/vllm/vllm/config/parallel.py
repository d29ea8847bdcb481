# Synthetic fixture in the shape of vLLM's vllm/config/parallel.py (not vLLM code).


@config
class ParallelConfig:
    tensor_parallel_size: int = 1
    disable_custom_all_reduce: bool = False
