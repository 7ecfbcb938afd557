"""Mutation testing of the modules that compute numbers users publish, with mutmut.

    python bench/mutation.py [--module rageval/metrics/token_spans.py ...] [--show-survivors]

The project's tracked files are copied to a temporary folder, mutmut (``pip install mutmut``) mutates
the listed modules there (only lines the selected tests cover) and runs the fast tests that cover
each mutant; the script prints the kill rate per module and, with ``--show-survivors``, the diff of
every mutant that survived. Nothing in the working tree is touched. The shared collections are read
from ../shared/datasets (``RAGEVAL_SHARED_DATASETS``).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# module -> the fast tests that pin its behaviour
MODULES = {
    "rageval/metrics/token_spans.py": ["tests/test_spans.py", "tests/test_chroma.py", "tests/test_properties.py"],
    "rageval/metrics/chunking_eval.py": ["tests/test_chroma.py", "tests/test_properties.py"],
    "rageval/metrics/span.py": ["tests/test_spans.py", "tests/test_chroma.py", "tests/test_metrics.py"],
    "rageval/metrics/ranking.py": ["tests/test_metrics.py"],
    "rageval/metrics/sufficiency.py": ["tests/test_metrics.py"],
    "rageval/retrieval/topk.py": ["tests/test_bm25.py", "tests/test_properties.py", "tests/test_ties.py"],
    "retrievers/bm25_index.py": ["tests/test_bm25.py", "tests/test_ties.py"],
    "rageval/data/text_column.py": ["tests/test_data.py"],
    "rageval/store/run_folder.py": ["tests/test_run_folder.py", "tests/test_output_files.py", "tests/test_output_format.py"],
    "rageval/scoring/evaluation.py": ["tests/test_metrics.py", "tests/test_ties_aware.py"],
    "rageval/retrieval/fusion.py": ["tests/test_metrics.py", "tests/test_rewrite.py"],
    **{f"rageval/ifrag/instructions/{family}.py": ["tests/test_ifrag_instructions.py", "tests/test_ifrag_semantics.py"]
       for family in ("base", "registry", "keywords", "language", "length_constraints", "detectable_content",
                      "detectable_format", "change_case", "combination", "punctuation", "startend")},
}


def _copy_project(target: Path) -> None:
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)


def _configure(target: Path, modules: list[str]) -> None:
    tests = sorted({t for m in modules for t in MODULES[m]})
    config = (f"\n[tool.mutmut]\nsource_paths = [\"rageval/\", \"retrievers/\", \"corpora/\"]\n"
              f"only_mutate = {modules!r}\npytest_add_cli_args_test_selection = {tests!r}\n"
              "pytest_add_cli_args = [\"-m\", \"not slow\", \"-p\", \"no:cacheprovider\"]\n"
              "also_copy = [\"examples/\"]\nmutate_only_covered_lines = true\n").replace("'", '"')
    with open(target / "pyproject.toml", "a", encoding="utf-8") as f:
        f.write(config)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module", action="append", choices=sorted(MODULES), help="default: all of them")
    ap.add_argument("--show-survivors", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (to inspect with mutmut show)")
    args = ap.parse_args()
    modules = args.module or list(MODULES)
    work = Path(tempfile.mkdtemp(prefix="rageval-mutation-"))
    _copy_project(work)
    _configure(work, modules)
    # mutmut forks a child per mutant from a process that ran the tests: thread pools (OpenMP in torch,
    # the tokenizers' Rust pool) do not survive a fork and hang the child, so they stay single-threaded
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CI": "", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "TOKENIZERS_PARALLELISM": "false",
           "RAGEVAL_SHARED_DATASETS": os.environ.get("RAGEVAL_SHARED_DATASETS", str(ROOT.parent / "shared" / "datasets"))}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(os.cpu_count() or 2)], cwd=work,
                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    listing = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=work, env=env,
                             capture_output=True, text=True).stdout
    by_module: dict[str, Counter] = defaultdict(Counter)
    survivors: dict[str, list[str]] = defaultdict(list)
    for line in listing.splitlines():
        found = re.match(r"\s*(\S+__mutmut_\d+): (.+)$", line)
        if not found:
            continue
        name, status = found.group(1), found.group(2).strip()
        module = next((m for m in modules if name.startswith(m[:-3].replace("/", ".") + ".")), "?")
        by_module[module][status] += 1
        if status == "survived":
            survivors[module].append(name)
    print(f"mutmut over {len(modules)} modules in {elapsed:.0f} s (2 cores)")
    print(f"{'module':<34} {'mutants':>7} {'killed':>6} {'survived':>8} {'other':>5} {'kill rate':>9}")
    for module in modules:
        c = by_module.get(module, Counter())
        total = sum(c.values())
        other = total - c["killed"] - c["survived"]
        rate = c["killed"] / (c["killed"] + c["survived"]) if c["killed"] + c["survived"] else float("nan")
        print(f"{module:<34} {total:>7} {c['killed']:>6} {c['survived']:>8} {other:>5} {rate:>9.1%}")
    if args.show_survivors:
        for module in modules:
            for name in survivors.get(module, []):
                diff = subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=work, env=env,
                                      capture_output=True, text=True).stdout
                changed = [l for l in diff.splitlines() if l[:1] in "+-" and l[:3] not in ("+++", "---")]
                print(f"\n{name}\n  " + "\n  ".join(changed))
    if args.keep:
        print(f"\nkept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
