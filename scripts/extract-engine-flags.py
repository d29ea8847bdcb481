#!/usr/bin/env python3
"""Extracts an engine's command-line flags from its own argument definitions, as a TSV.

sparkctl checks every flag it emits against these tables (data/engines/*.flags.tsv,
docs/dev/plan.md). The script reads source files only; it never builds or imports the engine.

    scripts/extract-engine-flags.py llama.cpp SRC [--commit C] > data/engines/llama.cpp-<v>.flags.tsv
    scripts/extract-engine-flags.py vllm      SRC [--commit C] > data/engines/vllm-<v>.flags.tsv
    scripts/extract-engine-flags.py sglang    SRC [--commit C] > data/engines/sglang-<v>.flags.tsv
    scripts/extract-engine-flags.py llama.cpp-archs SRC > data/engines/llama.cpp-<v>.archs.tsv

SRC is a checkout (or an unpacked source tree) of the engine:
  llama.cpp  common/arg.cpp: common_arg({"-c", "--ctx-size"}, ...) rows usable by llama-server
             (set_examples containing LLAMA_EXAMPLE_SERVER or LLAMA_EXAMPLE_COMMON, not excluded)
  vllm       vllm/engine/arg_utils.py (EngineArgs.add_cli_args: add_argument("--flag", ...);
             bool EngineArgs fields get argparse.BooleanOptionalAction, hence --no-flag) and
             vllm/entrypoints/openai/cli_args.py (FrontendArgs dataclass fields -> --field-name)
  sglang     python/sglang/srt/server_args.py (ServerArgs.add_cli_args: add_argument("--flag", ...))

Output columns: flag, value ("yes": takes a value; "no": a switch), source path; for
llama.cpp-archs: architecture, kind ("hf": a Hugging Face class the converter takes; "gguf": a
general.architecture llama.cpp loads), source path.
Lines starting with '#' carry the engine, the commit and the command. Python 3 stdlib only.
"""
import argparse
import os
import re
import subprocess
import sys

STR = r'"((?:[^"\\]|\\.)*)"'


def read(src, rel):
    with open(os.path.join(src, rel), encoding="utf-8") as f:
        return f.read()


def balanced(text, start):
    """Returns the index just past the parenthesis group opening at text[start] == '('."""
    depth, i, n = 0, start, len(text)
    in_str = None
    while i < n:
        c = text[i]
        if in_str:
            if c == "\\":
                i += 2
                continue
            if c == in_str:
                in_str = None
        elif c in "\"'":
            in_str = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


def llamacpp(src):
    rel = "common/arg.cpp"
    text = read(src, rel)
    rows = {}
    for m in re.finditer(r"add_opt\(common_arg\(", text):
        # the add_opt( ... ) group: from "add_opt(" to its closing parenthesis
        end = balanced(text, m.start() + len("add_opt"))
        block = text[m.start():end]
        head = block.split("[](", 1)[0]
        lists = re.findall(r"\{((?:\s*" + STR + r"\s*,?)+)\}", head)
        if not lists:
            continue
        examples = re.search(r"set_examples\(\{([^}]*)\}\)", block)
        excludes = re.search(r"set_excludes\(\{([^}]*)\}\)", block)
        ex = examples.group(1) if examples else "LLAMA_EXAMPLE_COMMON"
        if "LLAMA_EXAMPLE_SERVER" not in ex and "LLAMA_EXAMPLE_COMMON" not in ex:
            continue
        if excludes and "LLAMA_EXAMPLE_SERVER" in excludes.group(1):
            continue
        # A value hint (a plain string after the flag lists, before the help) means a value.
        after = head[head.rfind("}") + 1:]
        strings = re.findall(STR, after)
        lambda_args = re.search(r"\[\]\(common_params\s*&\s*\w+\s*(,\s*([^)]*))?\)", block)
        # The handler's signature says it: (params) a switch, (params, bool) a switch with a
        # negation, (params, value) a value.
        if lambda_args:
            arg = lambda_args.group(2)
            takes = "yes" if arg and not re.match(r"\s*bool\b", arg) else "no"
        else:
            takes = "yes" if len(strings) >= 2 else "no"
        flag_lists = [re.findall(STR, l[0]) for l in lists]
        for i, flags in enumerate(flag_lists):
            for f in flags:
                if f.startswith("-"):
                    rows.setdefault(f, ("no" if i > 0 else takes, rel))
    return rows


def vllm(src):
    rows = {}
    rel = "vllm/engine/arg_utils.py"
    text = read(src, rel)
    # EngineArgs bool fields: "name: bool = ..." or "name: bool | None = ...".
    bools = set(re.findall(r"^    (\w+): bool(?: \| None)? =", text, re.M))
    start = text.find("def add_cli_args")
    body = text[start:]
    for m in re.finditer(r"\.add_argument\(", body):
        end = balanced(body, m.end() - 1)
        call = body[m.end():end - 1]
        flags = [f for f in re.findall(STR, call.split("**", 1)[0]) if f.startswith("-")]
        if not flags:
            continue
        field = re.search(r'\*\*\w+\["(\w+)"\]', call)
        is_bool = (field and field.group(1) in bools) or "store_true" in call
        for f in flags:
            rows.setdefault(f, ("no" if is_bool else "yes", rel))
            if field and field.group(1) in bools and f.startswith("--"):
                rows.setdefault("--no-" + f[2:], ("no", rel))
    rel = "vllm/entrypoints/openai/cli_args.py"
    text = read(src, rel)
    for cls in ("BaseFrontendArgs", "FrontendArgs"):
        m = re.search(r"^class " + cls + r"\b.*?:\n(.*?)(?=^\S)", text, re.M | re.S)
        if not m:
            continue
        for name, typ in re.findall(r"^    (\w+): ([^=\n]+?)\s*=", m.group(1), re.M):
            flag = "--" + name.replace("_", "-")
            is_bool = typ.strip() in ("bool", "bool | None")
            rows.setdefault(flag, ("no" if is_bool else "yes", rel))
            if is_bool:
                rows.setdefault("--no-" + flag[2:], ("no", rel))
    return rows


def sglang(src):
    rel = "python/sglang/srt/server_args.py"
    text = read(src, rel)
    rows = {}
    for m in re.finditer(r"\.add_argument\(", text):
        end = balanced(text, m.end() - 1)
        call = text[m.end():end - 1]
        flags = [f for f in re.findall(STR, call.split("=", 1)[0]) if f.startswith("-")]
        switch = re.search(r'action\s*=\s*"store_(true|false)"', call) is not None
        boolopt = "BooleanOptionalAction" in call
        for f in flags:
            rows.setdefault(f, ("no" if switch or boolopt else "yes", rel))
            if boolopt and f.startswith("--"):
                rows.setdefault("--no-" + f[2:], ("no", rel))
    return rows


def llamacpp_archs(src):
    """HF architecture classes llama.cpp's converter registers (convert_hf_to_gguf.py and
    conversion/*.py: @ModelBase.register("Class", ...)) and GGUF architecture names
    (src/llama-arch.cpp LLM_ARCH_NAMES). An architecture absent here is "new" (R-ENG-4)."""
    rows = {}
    files = ["convert_hf_to_gguf.py"]
    conv = os.path.join(src, "conversion")
    if os.path.isdir(conv):
        files += ["conversion/" + f for f in sorted(os.listdir(conv)) if f.endswith(".py")]
    for rel in files:
        text = read(src, rel)
        for m in re.finditer(r"@ModelBase\.register\(", text):
            end = balanced(text, m.end() - 1)
            for name in re.findall(STR, text[m.end():end - 1]):
                rows.setdefault(name, ("hf", rel))
    rel = "src/llama-arch.cpp"
    text = read(src, rel)
    m = re.search(r"LLM_ARCH_NAMES = \{(.*?)\n\};", text, re.S)
    for name in re.findall(r"\{\s*LLM_ARCH_\w+,\s*" + STR + r"\s*\}", m.group(1) if m else ""):
        rows.setdefault(name, ("gguf", rel))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("engine", choices=["llama.cpp", "vllm", "sglang", "llama.cpp-archs"])
    ap.add_argument("src", help="the engine's source tree")
    ap.add_argument("--commit", help="the commit SRC is at (default: git rev-parse HEAD)")
    a = ap.parse_args()
    commit = a.commit
    if not commit:
        try:
            commit = subprocess.run(["git", "-C", a.src, "rev-parse", "HEAD"], check=True,
                                    capture_output=True, text=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            commit = "unknown"
    rows = {"llama.cpp": llamacpp, "vllm": vllm, "sglang": sglang,
            "llama.cpp-archs": llamacpp_archs}[a.engine](a.src)
    out = sys.stdout
    out.write("# engine: %s\n# commit: %s\n" % (a.engine, commit))
    out.write("# command: scripts/extract-engine-flags.py %s SRC --commit %s\n" % (a.engine, commit))
    out.write("# architecture\tkind\tsource\n" if a.engine.endswith("archs") else
              "# flag\tvalue\tsource\n")
    for flag in sorted(rows):
        takes, rel = rows[flag]
        out.write("%s\t%s\t%s\n" % (flag, takes, rel))


if __name__ == "__main__":
    main()
