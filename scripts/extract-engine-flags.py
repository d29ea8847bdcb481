#!/usr/bin/env python3
"""Extracts an engine's command-line flags from its own argument definitions, as a TSV.

sparkctl checks every flag it emits against these tables (data/engines/*.flags.tsv,
docs/dev/plan.md). The script reads source files only; it never builds or imports the engine.

    scripts/extract-engine-flags.py llama.cpp SRC [--commit C] > data/engines/llama.cpp-<v>.flags.tsv
    scripts/extract-engine-flags.py vllm      SRC [--commit C] > data/engines/vllm-<v>.flags.tsv
    scripts/extract-engine-flags.py sglang    SRC [--commit C] > data/engines/sglang-<v>.flags.tsv
    scripts/extract-engine-flags.py llama.cpp-archs SRC > data/engines/llama.cpp-<v>.archs.tsv
    scripts/extract-engine-flags.py vllm-values SRC [--commit C] > data/engines/vllm-<v>.values.tsv
    scripts/extract-engine-flags.py sglang-values SRC [--commit C] > data/engines/sglang-<v>.values.tsv

SRC is a checkout (or an unpacked source tree) of the engine:
  llama.cpp  common/arg.cpp: common_arg({"-c", "--ctx-size"}, ...) rows usable by llama-server
             (set_examples containing LLAMA_EXAMPLE_SERVER or LLAMA_EXAMPLE_COMMON, not excluded)
  vllm       vllm/engine/arg_utils.py (EngineArgs/AsyncEngineArgs.add_cli_args: add_argument(
             "--flag", "-alias", **group_kwargs["field"]); a field whose type contains bool gets
             argparse.BooleanOptionalAction from get_kwargs, hence --no-flag; types from
             vllm/config/*.py when present, else EngineArgs' own fields) and
             vllm/entrypoints/openai/cli_args.py (make_arg_parser's flags; BaseFrontendArgs and
             FrontendArgs fields -> --field-name, bools with --no- forms)
  sglang     python/sglang/srt/server_args.py: ServerArgs dataclass fields `name: A[type, Arg(...)]`
             (--field-name, Arg.cli_name/aliases, bool -> switch; arg_groups/arg_utils.py
             add_cli_args_from_dataclass) and ServerArgs.add_cli_args's add_argument calls;
             trees before mid 2026 have only the add_argument calls

A file read at another commit than --commit is recorded with --file-commit PATH=SHA; --note
adds header lines (what the table describes, version mismatches).
  *-values   the names registered for --tool-call-parser and --reasoning-parser (vLLM:
             vllm/tool_parsers/__init__.py, vllm/reasoning/__init__.py; SGLang:
             function_call/function_call_parser.py, parser/reasoning_parser.py)
Output columns: flag, value ("yes": takes a value; "no": a switch), source path; for *-values:
flag, an accepted value, source path; for
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
OPTION = re.compile(r"-{1,2}[A-Za-z][A-Za-z0-9_.-]*")


def read(src, rel):
    with open(os.path.join(src, rel), encoding="utf-8") as f:
        return f.read()


def balanced(text, start, python=False):
    """Returns the index just past the parenthesis group opening at text[start] == '('.
    With `python`, '#' comments are skipped (an apostrophe in one is not a string)."""
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
        elif python and c == "#":
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
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


def strip_docstrings(text):
    return re.sub(r'"""(?:.|\n)*?"""', '""', text)


def dataclass_fields(text, cls):
    """name -> annotation of the fields of `class cls` (up to its first method)."""
    m = re.search(r"^class " + cls + r"\b[^\n]*:\n((?:[ \t]+[^\n]*\n|\n)*)", text, re.M)
    if not m:
        return {}
    body = strip_docstrings(m.group(1))
    body = re.split(r"^    (?:@|def )", body, maxsplit=1, flags=re.M)[0]
    fields = {}
    for name, ann in re.findall(r"^    (\w+):\s*(\((?:.|\n)*?\)|[^=\n]+?)\s*=", body, re.M):
        fields.setdefault(name, " ".join(ann.split()))
    return fields


def is_bool_annotation(ann):
    """vLLM's get_kwargs gives argparse.BooleanOptionalAction to a field whose type hints
    contain bool (unless the type is a config dataclass, which is parsed from JSON)."""
    return re.search(r"\bbool\b", ann or "") is not None and not re.search(r"Config\b", ann)


def add_argument_calls(body):
    """(call text, loop tuples) of each .add_argument( call in body; loop tuples are the
    ("--flag", type) pairs of an enclosing `for arg, type in [...]:` loop when the call's
    first argument is the loop variable."""
    out = []
    for m in re.finditer(r"\.add_argument\(", body):
        end = balanced(body, m.end() - 1, python=True)
        call = body[m.end():end - 1]
        loop = []
        first = call.strip().split(",", 1)[0].strip()
        if re.fullmatch(r"\w+", first):
            fors = list(re.finditer(r"for (\w+), \w+ in \[((?:.|\n)*?)\]:", body[:m.start()]))
            if fors and fors[-1].group(1) == first:
                loop = re.findall(r"\(\s*" + STR + r"\s*,\s*(\w+)\s*\)", fors[-1].group(2))
        out.append((call, loop))
    return out


def option_strings(call):
    """The option strings of an add_argument call: the positional string literals before the
    first keyword or ** argument (a help text that starts with "-" is not a flag)."""
    head = call.split("**", 1)[0]
    kwarg = re.search(r"(?<![=!<>])\b\w+\s*=(?!=)", head)
    positional = head[:kwarg.start()] if kwarg else head
    return [f for f in re.findall(STR, positional) if OPTION.fullmatch(f)]


def call_rows(call, loop, rel, field_type):
    """Rows of one add_argument call: its option strings, whether each takes a value, and
    the --no- form of a BooleanOptionalAction."""
    rows = {}
    head = call.split("**", 1)[0]
    flags = option_strings(call)
    if loop:
        for f, _ in loop:
            rows.setdefault(f, ("yes", rel))  # type=str/bool: both take a value
        return rows
    if not flags:
        return rows
    explicit_action = re.search(r"\baction\s*=\s*([\w.\"']+)", call)
    kw = re.search(r'\*\*\w+\["(\w+)"\]', call)
    boolopt = False
    switch = False
    if explicit_action:
        a = explicit_action.group(1)
        boolopt = "BooleanOptionalAction" in a
        switch = "store_true" in a or "store_false" in a or "store_const" in a
    elif kw and not re.search(r"\btype\s*=", head):
        long_flag = next((f for f in flags if f.startswith("--")), flags[0])
        dest = long_flag.lstrip("-").replace("-", "_")
        boolopt = is_bool_annotation(field_type(kw.group(1), dest))
    for f in flags:
        rows.setdefault(f, ("no" if boolopt or switch else "yes", rel))
        if boolopt and f.startswith("--"):
            rows.setdefault("--no-" + f[2:], ("no", rel))
    return rows


def vllm_engine_calls(src):
    """(call text, loop, field_type) for each add_argument call of EngineArgs.add_cli_args and
    AsyncEngineArgs.add_cli_args; field_type(key, dest) is the annotation of the config field
    the call's **group_kwargs["key"] reads (vllm/config/*.py), else EngineArgs' own field."""
    rel = "vllm/engine/arg_utils.py"
    text = read(src, rel)
    engine_fields = dataclass_fields(text, "EngineArgs")
    engine_fields.update(dataclass_fields(text, "AsyncEngineArgs"))
    config_fields = {}
    conf_dir = os.path.join(src, "vllm", "config")
    if os.path.isdir(conf_dir):
        for f in sorted(os.listdir(conf_dir)):
            if f.endswith(".py"):
                t = read(src, "vllm/config/" + f)
                for cls in re.findall(r"^class (\w+Config)\b", t, re.M):
                    config_fields[cls] = dataclass_fields(t, cls)
    group_cls = dict(re.findall(r"(\w+_kwargs) = get_kwargs\((\w+)\)", text))

    def field_type_for(call):
        def field_type(key, dest):
            var = re.search(r"\*\*(\w+_kwargs)\[", call)
            cls = group_cls.get(var.group(1)) if var else None
            if cls in config_fields and key in config_fields[cls]:
                return config_fields[cls][key]
            return engine_fields.get(dest, engine_fields.get(key))
        return field_type

    for cls in ("EngineArgs", "AsyncEngineArgs"):
        m = re.search(r"^class " + cls + r"\b", text, re.M)
        start = text.find("def add_cli_args", m.end() if m else 0)
        if not m or start < 0:
            continue
        nxt = re.search(r"\n    (?:@|def )", text[start + 1:])
        body = text[start:start + 1 + nxt.start()] if nxt else text[start:]
        for call, loop in add_argument_calls(body):
            yield call, loop, field_type_for(call)


def vllm(src):
    """`vllm serve` flags: EngineArgs/AsyncEngineArgs.add_cli_args (vllm/engine/arg_utils.py:
    explicit add_argument("--flag", "-alias", **group_kwargs["field"]) calls whose argparse
    kwargs come from the config dataclass field through get_kwargs, so a bool field becomes
    argparse.BooleanOptionalAction, hence --flag and --no-flag), and the OpenAI server's
    make_arg_parser (vllm/entrypoints/openai/cli_args.py: its own add_argument calls, and
    BaseFrontendArgs/FrontendArgs fields registered as --field-name by get_kwargs, bools with
    --no- forms). A field's type is read from the config dataclass when its file is in SRC
    (vllm/config/*.py), else from EngineArgs' own field of the flag's dest name, which
    defaults from that config field."""
    rows = {}
    rel = "vllm/engine/arg_utils.py"
    for call, loop, field_type in vllm_engine_calls(src):
        for f, row in call_rows(call, loop, rel, field_type).items():
            rows.setdefault(f, row)

    rel = "vllm/entrypoints/openai/cli_args.py"
    text = read(src, rel)
    m = re.search(r"^def make_arg_parser\b", text, re.M)
    if m:
        nxt = re.search(r"\n\S", text[m.end():])
        body = text[m.start():m.end() + (nxt.start() if nxt else len(text))]
        for call, loop in add_argument_calls(body):
            for f, row in call_rows(call, loop, rel, lambda k, d: None).items():
                rows.setdefault(f, row)
    extra = {k: re.findall(STR, v) for k, v in
             re.findall(r'\["(\w+)"\]\["flags"\]\s*=\s*\[([^\]]*)\]', text)}
    for cls in ("BaseFrontendArgs", "FrontendArgs"):
        for name, ann in dataclass_fields(text, cls).items():
            flag = "--" + name.replace("_", "-")
            is_bool = is_bool_annotation(ann)
            for f in [flag] + extra.get(name, []):
                rows.setdefault(f, ("no" if is_bool else "yes", rel))
            if is_bool:
                rows.setdefault("--no-" + flag[2:], ("no", rel))
    return rows


def sglang(src):
    """`python3 -m sglang.launch_server` flags from ServerArgs.add_cli_args. Older trees add
    every flag with add_argument("--flag", ...); since mid 2026 most are ServerArgs dataclass
    fields `name: A[type, "help" | Arg(...), NS(...)] = default` that
    arg_groups/arg_utils.py add_cli_args_from_dataclass turns into --field-name (Arg.cli_name
    and Arg.aliases add names; Arg.no_cli skips the field; a bool field is store_true), plus a
    few hand-written add_argument calls. Deprecated* actions are left out: sparkctl must not
    emit them."""
    rel = "python/sglang/srt/server_args.py"
    text = read(src, rel)
    if "add_cli_args_from_dataclass" not in text:
        rows = {}
        for call, loop in add_argument_calls(text):
            for f, row in call_rows(call, loop, rel, lambda k, d: None).items():
                rows.setdefault(f, row)
        return rows
    import ast
    tree = ast.parse(text)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ServerArgs")
    rows = {}

    def const(node):
        return node.value if isinstance(node, ast.Constant) else None

    def takes_value(typ, action):
        if action is not None:
            name = ast.unparse(action)
            if "BooleanOptionalAction" in name:
                return "boolopt"
            if re.search(r"store_(true|false|const)|count", name):
                return "no"
            return "yes"
        inner = typ
        # Optional[X] / X | None
        if isinstance(inner, ast.Subscript) and ast.unparse(inner.value) in ("Optional",
                                                                             "typing.Optional"):
            inner = inner.slice
        if isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.BitOr):
            parts = [x for x in (inner.left, inner.right) if ast.unparse(x) != "None"]
            inner = parts[0] if len(parts) == 1 else inner
        return "no" if ast.unparse(inner) == "bool" else "yes"

    for node in cls.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        ann = node.annotation
        if not (isinstance(ann, ast.Subscript) and ast.unparse(ann.value) in ("A", "Annotated")):
            continue
        elts = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else [ann.slice]
        meta = None
        for e in elts[1:]:
            if isinstance(e, ast.Constant) and isinstance(e.value, str):
                meta = {}
                break
            if isinstance(e, ast.Call) and ast.unparse(e.func) == "Arg":
                meta = {k.arg: k.value for k in e.keywords}
                break
        if meta is None or const(meta.get("no_cli")) is True:
            continue
        action = meta.get("action")
        if action is not None and "Deprecated" in ast.unparse(action):
            continue
        name = const(meta.get("cli_name")) or "--" + node.target.id.replace("_", "-")
        names = [name]
        if isinstance(meta.get("aliases"), (ast.List, ast.Tuple)):
            names += [const(x) for x in meta["aliases"].elts if isinstance(const(x), str)]
        kind = takes_value(elts[0], action)
        for f in names:
            rows.setdefault(f, ("no" if kind == "boolopt" else kind, rel))
            if kind == "boolopt" and f.startswith("--"):
                rows.setdefault("--no-" + f[2:], ("no", rel))

    fn = next(n for n in cls.body
              if isinstance(n, ast.FunctionDef) and n.name == "add_cli_args")
    for call in ast.walk(fn):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and call.func.attr == "add_argument"):
            continue
        kw = {k.arg: k.value for k in call.keywords}
        action = kw.get("action")
        if action is not None and "Deprecated" in ast.unparse(action):
            continue
        flags = [const(a) for a in call.args if isinstance(const(a), str)]
        kind = takes_value(ast.Name("str"), action)
        for f in flags:
            if OPTION.fullmatch(f):
                rows.setdefault(f, ("no" if kind == "boolopt" else kind, rel))
                if kind == "boolopt" and f.startswith("--"):
                    rows.setdefault("--no-" + f[2:], ("no", rel))
    return rows


def dict_keys(src, rel, owner, name):
    """String keys of the dict literal assigned to `name` (module level, or in class `owner`)."""
    import ast
    tree = ast.parse(read(src, rel))
    body = tree.body
    if owner:
        body = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == owner).body
    for node in body:
        target = (node.targets[0] if isinstance(node, ast.Assign) else
                  node.target if isinstance(node, ast.AnnAssign) else None)
        if isinstance(target, ast.Name) and target.id == name and isinstance(node.value, ast.Dict):
            return [k.value for k in node.value.keys if isinstance(k, ast.Constant)]
    raise SystemExit("%s: no dict %s%s" % (rel, owner + "." if owner else "", name))


def vllm_values(src):
    """Values `vllm serve` accepts for --tool-call-parser and --reasoning-parser: the names the
    engine registers (vllm/tool_parsers/__init__.py _TOOL_PARSERS_TO_REGISTER,
    vllm/reasoning/__init__.py _REASONING_PARSERS_TO_REGISTER)."""
    rows = {}
    for flag, rel, name in (("--tool-call-parser", "vllm/tool_parsers/__init__.py",
                             "_TOOL_PARSERS_TO_REGISTER"),
                            ("--reasoning-parser", "vllm/reasoning/__init__.py",
                             "_REASONING_PARSERS_TO_REGISTER")):
        for k in dict_keys(src, rel, None, name):
            rows[(flag, k)] = rel
    # Flags whose config field is a Literal (inline, or an alias `Name = Literal[...]` of
    # vllm/config/*.py): get_kwargs gives them those choices.
    aliases = {}
    conf_dir = os.path.join(src, "vllm", "config")
    for f in sorted(os.listdir(conf_dir)) if os.path.isdir(conf_dir) else []:
        if f.endswith(".py"):
            t = read(src, "vllm/config/" + f)
            for name, body in re.findall(r"^(\w+) = (Literal\[(?:.|\n)*?\])\n", t, re.M):
                aliases[name] = literal_choices(body)
    rel = "vllm/engine/arg_utils.py"
    for call, loop, field_type in vllm_engine_calls(src):
        kw = re.search(r'\*\*\w+\["(\w+)"\]', call)
        flags = option_strings(call)
        if not kw or not flags or re.search(r"\bchoices\s*=", call):
            continue
        ann = field_type(kw.group(1), flags[0].lstrip("-").replace("-", "_")) or ""
        ann = re.sub(r"\s*\|\s*None\b|\bNone\s*\|\s*", "", ann).strip()
        choices = literal_choices(ann) if ann.startswith("Literal[") else aliases.get(ann)
        for f in flags:
            for c in choices or []:
                rows[(f, c)] = rel
    return rows


def literal_choices(text):
    """The string values of `Literal["a", "b", ...]`, or None when they are not all literals."""
    import ast
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return None
    if not (isinstance(node, ast.Subscript) and ast.unparse(node.value) == "Literal"):
        return None
    elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    values = [e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return values if len(values) == len(elts) else None


def sglang_values(src):
    """Values SGLang accepts for --tool-call-parser and --reasoning-parser (besides "auto"):
    FunctionCallParser.ToolCallParserEnum and ReasoningParser.DetectorMap keys."""
    rows = {}
    for flag, rel, owner, name in (
            ("--tool-call-parser", "python/sglang/srt/function_call/function_call_parser.py",
             "FunctionCallParser", "ToolCallParserEnum"),
            ("--reasoning-parser", "python/sglang/srt/parser/reasoning_parser.py",
             "ReasoningParser", "DetectorMap")):
        for k in ["auto"] + dict_keys(src, rel, owner, name):
            rows[(flag, k)] = rel
    # ServerArgs fields with literal choices: Arg(choices=[...] or a module-level list constant)
    # or a Literal[...] type.
    import ast
    rel = "python/sglang/srt/server_args.py"
    tree = ast.parse(read(src, rel))
    consts = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            try:
                v = ast.literal_eval(node.value)
            except ValueError:
                continue
            if isinstance(v, list) and all(isinstance(x, str) for x in v):
                consts[node.targets[0].id] = v
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ServerArgs")
    for node in cls.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(node.annotation, ast.Subscript)
                and ast.unparse(node.annotation.value) in ("A", "Annotated")):
            continue
        ann = node.annotation.slice
        elts = ann.elts if isinstance(ann, ast.Tuple) else [ann]
        meta = next((e for e in elts[1:] if isinstance(e, ast.Call)
                     and ast.unparse(e.func) == "Arg"), None)
        kw = {k.arg: k.value for k in meta.keywords} if meta else {}
        if isinstance(kw.get("no_cli"), ast.Constant) and kw["no_cli"].value is True:
            continue
        choices = None
        if "choices" in kw:
            c = kw["choices"]
            if isinstance(c, ast.Name):
                choices = consts.get(c.id)
            else:
                try:
                    choices = ast.literal_eval(c)
                except ValueError:
                    choices = None
        else:
            t = ast.unparse(elts[0])
            t = re.sub(r"^Optional\[(.*)\]$", r"\1", t)
            t = re.sub(r"\s*\|\s*None$", "", t)
            choices = literal_choices(t) if t.startswith("Literal[") else None
        if not choices or not all(isinstance(x, str) for x in choices):
            continue
        name = (kw["cli_name"].value if isinstance(kw.get("cli_name"), ast.Constant)
                else "--" + node.target.id.replace("_", "-"))
        names = [name]
        if isinstance(kw.get("aliases"), (ast.List, ast.Tuple)):
            names += [a.value for a in kw["aliases"].elts if isinstance(a, ast.Constant)]
        for f in names:
            for c in choices:
                rows[(f, c)] = rel
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
    ap.add_argument("engine", choices=["llama.cpp", "vllm", "sglang", "llama.cpp-archs",
                                       "vllm-values", "sglang-values"])
    ap.add_argument("src", help="the engine's source tree")
    ap.add_argument("--commit", help="the commit SRC is at (default: git rev-parse HEAD)")
    ap.add_argument("--file-commit", action="append", default=[], metavar="PATH=SHA",
                    help="a file of SRC taken at another commit than --commit (recorded)")
    ap.add_argument("--note", action="append", default=[], help="a header line to record")
    a = ap.parse_args()
    commit = a.commit
    if not commit:
        try:
            commit = subprocess.run(["git", "-C", a.src, "rev-parse", "HEAD"], check=True,
                                    capture_output=True, text=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            commit = "unknown"
    rows = {"llama.cpp": llamacpp, "vllm": vllm, "sglang": sglang,
            "llama.cpp-archs": llamacpp_archs, "vllm-values": vllm_values,
            "sglang-values": sglang_values}[a.engine](a.src)
    out = sys.stdout
    for n in a.note:
        out.write("# %s\n" % n)
    out.write("# engine: %s\n# commit: %s\n" % (a.engine, commit))
    for fc in a.file_commit:
        out.write("# file-commit: %s\n" % fc)
    out.write("# command: scripts/extract-engine-flags.py %s SRC --commit %s%s\n" %
              (a.engine, commit, "".join(" --file-commit " + fc for fc in a.file_commit)))
    if a.engine.endswith("values"):
        out.write("# flag\taccepted value\tsource\n")
        for (flag, value) in sorted(rows):
            out.write("%s\t%s\t%s\n" % (flag, value, rows[(flag, value)]))
        return
    out.write("# architecture\tkind\tsource\n" if a.engine.endswith("archs") else
              "# flag\tvalue\tsource\n")
    for flag in sorted(rows):
        takes, rel = rows[flag]
        out.write("%s\t%s\t%s\n" % (flag, takes, rel))


if __name__ == "__main__":
    main()
