# Synthetic fixture in the shape of vLLM's vllm/entrypoints/openai/cli_args.py (written for
# sparkctl's tests; not vLLM code): make_arg_parser's own flags, then FrontendArgs fields.
from dataclasses import dataclass


@dataclass
class BaseFrontendArgs:
    enable_auto_tool_choice: bool = False
    """Enable auto tool choice."""
    tool_call_parser: str | None = None


@dataclass
class FrontendArgs(BaseFrontendArgs):
    host: str | None = None
    port: int = 8000


def make_arg_parser(parser):
    parser.add_argument("model_tag", type=str, nargs="?", help="The model tag to serve.")
    parser.add_argument("--headless", action="store_true", default=False, help="Headless.")
    parser.add_argument("--api-server-count", "-asc", type=int, default=None, help="Servers.")
    parser = FrontendArgs.add_cli_args(parser)
    parser = AsyncEngineArgs.add_cli_args(parser)
    return parser
