"""Reliability battery: nothing salprep reads can run code, and no path can break a shell command.

(a) An AST audit of every ``salprep/**/*.py``: each ``torch.load`` passes ``weights_only=True``
    literally; no ``eval`` / ``exec``, no pickle-family loads, no ``yaml.load`` without a safe
    loader, no ``np.load(..., allow_pickle=True)``, no ``subprocess`` / ``os.system`` shell. (So
    the JSON attributes of shards and config files can only be parsed by ``json.loads``.)
(b) Every ``shell:`` of the Snakefile and ``workflow/rules/*.smk`` quotes its path placeholders
    (``{input...:q}``, ``{output...:q}``, ``{log...:q}``, path-holding ``{params.X:q}``); params
    and resources that are whole option strings must come from ``shlex.join`` (and then not be
    quoted again); wildcards must be constrained.

Each checker is first shown to flag a bad sample, so a passing audit means something.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "salprep"


# ------------------------------------------------------------------ (a) the Python audit

#: calls that unpickle (or otherwise run code from) their input, whatever the arguments
UNSAFE_CALLS = {
    "eval", "exec", "builtins.eval", "builtins.exec", "compile", "builtins.compile", "__import__",
    "pickle.load", "pickle.loads", "pickle.Unpickler", "_pickle.load", "_pickle.loads",
    "cPickle.load", "cPickle.loads", "dill.load", "dill.loads", "cloudpickle.load", "cloudpickle.loads",
    "joblib.load", "marshal.load", "marshal.loads", "shelve.open", "pandas.read_pickle",
    "numpy.lib.format.read_array", "yaml.unsafe_load", "yaml.unsafe_load_all", "yaml.full_load",
    "yaml.full_load_all", "torch.jit.load", "torch.hub.load", "torch.hub.load_state_dict_from_url",
    "os.system", "os.popen",
}
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"}


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> dotted origin (``import numpy as np`` -> np: numpy; ``from torch import load``)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                names[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _qualname(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def _literal(call: ast.Call, name: str):
    """(present, value) of keyword ``name``; value is ``...`` when not a literal constant."""
    for kw in call.keywords:
        if kw.arg == name:
            return True, kw.value.value if isinstance(kw.value, ast.Constant) else ...
    return False, None


def audit_source(source: str, filename: str = "<sample>") -> list[str]:
    """Every unsafe deserialisation / code execution / shell call in ``source``, one line each."""
    tree = ast.parse(source, filename)
    aliases = _aliases(tree)
    found = []
    called = set()

    def flag(node, what):
        found.append(f"{filename}:{node.lineno}: {what}")

    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        called.add(id(node.func))
        name = _qualname(node.func, aliases)
        if name is None:
            continue
        has_star = any(kw.arg is None for kw in node.keywords)
        if name == "torch.load":
            present, value = _literal(node, "weights_only")
            if not present or value is not True or has_star:
                flag(node, "torch.load without a literal weights_only=True")
        elif name in UNSAFE_CALLS:
            flag(node, f"call to {name}")
        elif name in ("yaml.load", "yaml.load_all"):
            loader = next((kw.value for kw in node.keywords if kw.arg == "Loader"), None)
            if loader is None and len(node.args) > 1:
                loader = node.args[1]
            loader_name = _qualname(loader, aliases) if loader is not None else None
            if loader_name is None or loader_name.split(".")[-1] not in SAFE_YAML_LOADERS:
                flag(node, f"{name} without a safe Loader")
        elif name == "numpy.load":
            present, value = _literal(node, "allow_pickle")
            if (present and value is not False) or has_star:
                flag(node, "numpy.load with allow_pickle")
        elif name.startswith("subprocess.") or name.startswith("asyncio.create_subprocess_shell"):
            present, value = _literal(node, "shell")
            if (present and value is not False) or has_star or name.endswith("_shell"):
                flag(node, f"{name} with shell=True")
    for node in ast.walk(tree):  # torch.load passed around (loader = torch.load) escapes the check
        if isinstance(node, (ast.Attribute, ast.Name)) and id(node) not in called and \
                isinstance(getattr(node, "ctx", None), ast.Load) and _qualname(node, aliases) == "torch.load":
            flag(node, "torch.load referenced, not called with weights_only=True")
    return found


SAMPLE = """
import pickle as pk
import subprocess
import numpy as np
import torch
import yaml
from torch import load

state = torch.load(p)
value = eval(x)
torch.load(p, weights_only=False)
load(p, map_location="cpu")
pk.loads(blob)
yaml.load(text)
np.load(p, allow_pickle=True)
subprocess.run(cmd, shell=True)
loader = torch.load
# the safe forms, none flagged:
torch.load(p, map_location="cpu", weights_only=True)
model.eval()
yaml.safe_load(text)
yaml.load(text, Loader=yaml.SafeLoader)
np.load(p)
subprocess.run(["ls", p], check=True)
"""


def test_the_auditor_flags_unsafe_calls():
    found = audit_source(SAMPLE)
    lines = sorted(int(f.split(":")[1]) for f in found)
    assert lines == list(range(9, 18)), "\n".join(found)
    assert audit_source("import torch\ntorch.load(p)\neval(x)\n") == [
        "<sample>:2: torch.load without a literal weights_only=True", "<sample>:3: call to eval"]


def test_no_unsafe_loading_or_execution_in_salprep():
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 40  # the whole package, not an empty glob
    found = []
    loads = 0
    for path in sources:
        text = path.read_text()
        found += audit_source(text, str(path.relative_to(REPO)))
        loads += text.count("torch.load(")
    assert found == [], "\n".join(found)
    assert loads >= 1  # the one checkpoint reader is seen (and passes)


def test_shard_json_attributes_are_parsed_with_json_loads():
    """Config and params stored as JSON attributes are read back with json.loads (never eval,
    per the audit above); checked where shards are read."""
    text = "\n".join(p.read_text() for p in sorted(PACKAGE.rglob("*.py")))
    assert "json.loads" in text and "literal_eval" not in text


# ------------------------------------------------------------------ (b) the workflow's shell commands

SMK_FILES = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]

#: params / resources that are not paths (why they need no quoting); any other unquoted one fails
NOT_PATHS = {
    "seed": "integer (schema)", "frames": "integer (schema / rule constant)", "size": "WxH (schema pattern)",
    "n_train": "integer", "n_val": "integer", "n_test": "integer", "video": "the {video} wildcard (\\d+)",
    "layout": "enum [dhf1k] (schema)", "models": "registry model names", "protocol": "integers and enums (schema)",
    "gpu": "integer",
}
PLACEHOLDER = re.compile(r"(?<!\{)\{(\w+)((?:\.\w+|\[[^\]]*\])*)(?::(\w+))?\}(?!\})")


def _blocks(lines: list[str], start: int, indent: int) -> int:
    """Index after the block of lines indented deeper than ``indent`` starting at ``start``."""
    end = start
    while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent):
        end += 1
    return end


def parse_rules(text: str) -> dict[str, dict]:
    """rule name -> {"shell": str, "params": {name: expr}, "resources": {...}, "constraints": set};
    a ``use rule A as B with:`` block's entry names A as "use" (:func:`resolve_uses` completes it)."""
    lines = text.splitlines()
    rules = {}
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)(?:rule (\w+)|use rule (\w+) as (\w+) with):", line)
        if not m:
            continue
        indent = len(m.group(1))
        end = _blocks(lines, i + 1, indent)
        rule = {"shell": None, "params": {}, "resources": {}, "constraints": set(), "use": m.group(3)}
        j = i + 1
        while j < end:
            d = re.match(r"^(\s*)(\w+):\s*(.*)$", lines[j])
            if not d or len(d.group(1)) <= indent:
                j += 1
                continue
            body_end = _blocks(lines, j + 1, len(d.group(1)))
            body = "\n".join([d.group(3), *lines[j + 1: body_end]]).strip()
            name = d.group(2)
            if name == "shell":
                rule["shell"] = ast.literal_eval(f"({body})")
            elif name in ("params", "resources"):
                call = ast.parse(f"f({body})", mode="eval").body
                rule[name] = {kw.arg or f"**{ast.unparse(kw.value)}": ast.unparse(kw.value) for kw in call.keywords}
                rule.setdefault("given", set()).add(name)
            elif name == "wildcard_constraints":
                rule["constraints"] = {kw.arg for kw in ast.parse(f"f({body})", mode="eval").body.keywords}
                rule.setdefault("given", set()).add("constraints")
            j = body_end
        rules[m.group(2) or m.group(4)] = rule
    return rules


def resolve_uses(rules: dict[str, dict]) -> dict[str, dict]:
    """``use rule A as B with:`` entries completed as Snakemake makes B: A's shell, A's params
    with the block's over them, A's resources and constraints unless the block gives its own."""
    out = {}
    for name, rule in rules.items():
        base = rule
        while base.get("use"):
            base = rules[base["use"]]
        if base is not rule:
            given = rule.get("given", set())
            rule = {**rule, "shell": base["shell"], "params": {**base["params"], **rule["params"]},
                    **{k: base[k] for k in ("resources", "constraints") if k not in given}}
        out[name] = rule
    return out


def shlex_producers(text: str) -> set[str]:
    """Functions whose result is ``shlex.join``/``shlex.quote``-d, and globals assigned from them."""
    tree = ast.parse(text)
    funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    producers: set[str] = set()

    def returns_quoted(fn: ast.FunctionDef) -> bool:
        returns = [n.value for n in ast.walk(fn) if isinstance(n, ast.Return) and n.value is not None]
        return bool(returns) and all(_quoted_expr(r) for r in returns)

    def _quoted_expr(expr: ast.AST) -> bool:
        calls = [n for n in ast.walk(expr) if isinstance(n, ast.Call)]
        return any(ast.unparse(c.func) in ("shlex.join", "shlex.quote") or ast.unparse(c.func) in producers
                   for c in calls)

    changed = True
    while changed:
        changed = False
        for name, fn in funcs.items():
            if name not in producers and returns_quoted(fn):
                producers.add(name)
                changed = True
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                target = node.targets[0].id
                value = node.value
                if isinstance(value, ast.DictComp):
                    value = value.value
                if target not in producers and isinstance(value, ast.Call) and _quoted_expr(value):
                    producers.add(target)
                    changed = True
    return producers


def _python_of(smk: str) -> str:
    """The plain-Python top level of a .smk file (rules and other directives left out)."""
    lines = smk.splitlines()
    keep, i = [], 0
    while i < len(lines):
        if re.match(r"^(rule \w+|use rule \w+|wildcard_constraints|configfile|report|include|if IS_DEMO)\b.*:", lines[i]) or \
                re.match(r"^(configfile|report|include):", lines[i]):
            i = _blocks(lines, i + 1, 0)
            continue
        keep.append(lines[i])
        i += 1
    return "\n".join(keep)


def dict_literals(python: str) -> dict[str, dict[str, str]]:
    """Top-level ``NAME = {"key": expr, ...}`` of the workflow's Python (``SHARD_PARAMS``)."""
    found = {}
    for node in ast.parse(python).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and isinstance(node.value, ast.Dict) \
                and all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.value.keys):
            found[node.targets[0].id] = {k.value: ast.unparse(v) for k, v in zip(node.value.keys, node.value.values)}
    return found


def top_level_constraints(smk: str) -> set[str]:
    """Wildcards constrained by a file-level ``wildcard_constraints:`` block."""
    names = set()
    lines = smk.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("wildcard_constraints:"):
            body = "\n".join(lines[i + 1: _blocks(lines, i + 1, 0)])
            names |= {kw.arg for kw in ast.parse(f"f({body})", mode="eval").body.keywords}
    return names


def check_shell_quoting(rules: dict[str, dict], producers: set[str], constrained: set[str],
                        spreads: dict[str, dict] | None = None) -> list[str]:
    """Unquoted path placeholders, double-quoted option strings, unconstrained wildcards.

    ``spreads``: the dicts that ``**NAME`` entries of params / resources expand to."""
    problems = []
    for rule_name, rule in rules.items():
        shell = rule["shell"]
        if shell is None:
            continue
        for kind in ("params", "resources"):
            for entry in [k for k in rule[kind] if k.startswith("**")]:
                if entry[2:] not in (spreads or {}):
                    problems.append(f"rule {rule_name}: {kind} {entry} is not a dict literal the check can read")
                    continue
                rule[kind] = {**rule[kind], **spreads[entry[2:]]}
        for m in PLACEHOLDER.finditer(shell):
            kind, rest, fmt = m.group(1), m.group(2), m.group(3)
            quoted = fmt == "q"
            key = rest.lstrip(".").split(".")[0].split("[")[0]
            where = f"rule {rule_name}: {m.group(0)}"
            if kind in ("input", "output", "log"):
                if not quoted:
                    problems.append(f"{where} is a path: use :q")
            elif kind in ("params", "resources"):
                expr = rule[kind].get(key)
                if expr is None:
                    problems.append(f"{where}: no {kind} entry {key!r}")
                    continue
                head = re.match(r"[\w.]+", expr.replace("lambda w: ", ""))
                pre_quoted = head is not None and head.group(0).split(".")[0] in producers
                if pre_quoted and quoted:
                    problems.append(f"{where} is already shlex-quoted ({expr}): :q would make it one argument")
                elif not pre_quoted and not quoted and key not in NOT_PATHS:
                    problems.append(f"{where} ({expr}) may hold a path or spaces: use :q (or shlex.join it)")
            elif kind == "wildcards":
                if key not in constrained | rule["constraints"]:
                    problems.append(f"{where}: unquoted wildcard without a wildcard_constraints pattern")
            elif kind not in ("threads",):
                problems.append(f"{where}: unknown placeholder kind {kind!r}")
    return problems


BAD_RULES = '''
def opts():
    return shlex.join(["--a", "b c"])


rule bad:
    input:
        "in put.txt",
    output:
        out="out.txt",
    params:
        root=lambda w: ROOT,
        options=opts(),
        seed=3,
    log:
        "x.log",
    shell:
        "cp {input} {output.out:q} --root {params.root} {params.options:q} --seed {params.seed}"
        " --video {wildcards.video} > {log} 2>&1"
'''


def test_the_shell_checker_flags_unquoted_paths():
    problems = check_shell_quoting(parse_rules(BAD_RULES), shlex_producers(_python_of(BAD_RULES)), set())
    assert [re.search(r"\{[^}]*\}", p).group(0) for p in problems] == [
        "{input}", "{params.root}", "{params.options:q}", "{wildcards.video}", "{log}"], problems
    good = BAD_RULES.replace("{input}", "{input:q}").replace("{params.root}", "{params.root:q}") \
        .replace("{params.options:q}", "{params.options}").replace("{log}", "{log:q}")
    assert check_shell_quoting(parse_rules(good), {"opts"}, {"video"}) == []


def test_every_shell_command_quotes_its_paths():
    texts = {p: p.read_text() for p in SMK_FILES}
    rules = {}
    for text in texts.values():
        rules.update(parse_rules(text))
    rules = resolve_uses(rules)
    shells = [r for r in rules.values() if r["shell"]]
    assert len(shells) >= 12, sorted(rules)  # every rule with a shell: was found and parsed
    producers = set()
    for text in texts.values():
        producers |= shlex_producers(_python_of(text))
    assert {"split_args", "stage_options", "gt_options", "_options", "TRAIN_RUN", "RUN_OPTIONS"} <= producers
    constrained = set().union(*(top_level_constraints(t) for t in texts.values()))
    assert {"video", "model"} <= constrained
    spreads = {}
    for text in texts.values():
        spreads.update(dict_literals(_python_of(text)))
    assert "SHARD_PARAMS" in spreads
    problems = check_shell_quoting(rules, producers, constrained, spreads)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("path", SMK_FILES, ids=lambda p: p.name)
def test_no_shell_strings_are_built_at_run_time(path):
    """``shell()`` / ``run:`` with f-strings would escape the check above: there are none."""
    text = path.read_text()
    assert not re.search(r"^\s*run:", text, re.M) and "shell(" not in text
