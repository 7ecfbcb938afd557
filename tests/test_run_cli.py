"""``rageval run`` end to end on the shared collections: leaderboard, files, pytrec_eval agreement, resume,
SIGTERM, and the same run files from two fresh processes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytrec_eval

from rageval import load_dataset
from rageval.cli import main
from rageval.running.benchmark import benchmark as run
from rageval.store.run_folder import pair_folder

ROOT = Path(__file__).resolve().parent.parent


def trec_means(folder: Path, dataset, measures: dict[str, str]) -> dict[str, float]:
    """Means of pytrec_eval measures computed directly from a written run.trec."""
    run_dict: dict[str, dict[str, float]] = {}
    for line in (folder / "run.trec").read_text().splitlines():
        q, _, d, _, s, _ = line.split()
        run_dict.setdefault(q, {})[d] = float(s)
    qrels = {q: j for q, j in dataset.qrels.items() if any(g > 0 for g in j.values())}
    values = pytrec_eval.RelevanceEvaluator(qrels, set(measures.values())).evaluate(run_dict)
    out = {}
    for name, measure in measures.items():
        key = measure.replace(".", "_")
        out[name] = sum(values.get(q, {}).get(key, 0.0) for q in qrels) / len(qrels)
    return out


def test_cranfield_both_backends_agree_with_pytrec_eval(shared, tmp_path, capsys):
    assert main(["run", "--dataset", str(shared / "cranfield"), "--retriever", "bm25",
                 "--retriever", "bm25:backend=rank_bm25", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:5] for line in out.splitlines() if line.startswith("bm25")}
    assert rows["bm25"] == rows["bm25:backend=rank_bm25"]
    ds = load_dataset(str(shared / "cranfield"))
    for spec in ("bm25", "bm25:backend=rank_bm25"):
        folder = pair_folder(tmp_path, "cranfield.test", spec)
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["n_queries"] == 225
        expected = trec_means(folder, ds, {"nDCG@10": "ndcg_cut.10", "Recall@100": "recall.100"})
        assert metrics["metrics"]["nDCG@10"] == pytest.approx(expected["nDCG@10"], abs=1e-12)
        assert metrics["metrics"]["Recall@100"] == pytest.approx(expected["Recall@100"], abs=1e-12)
        # MRR@10 = recip_rank over the run cut at 10 (trec_eval's order: score desc, doc id desc)
        lines = [l.split() for l in (folder / "run.trec").read_text().splitlines()]
        rr = {}
        for q, _, d, rank, s, _ in lines:
            if int(rank) <= 10 and q not in rr and ds.qrels.get(q, {}).get(d, 0) > 0:
                rr[q] = 1 / int(rank)
        assert metrics["metrics"]["MRR@10"] == pytest.approx(sum(rr.values()) / 225, abs=1e-12)
        per_query = [json.loads(l) for l in (folder / "per_query.jsonl").read_text().splitlines()]
        assert len(per_query) == 225 and set(per_query[0]) == {"query_id", "nDCG@10", "MRR@10", "Recall@100", "Sufficiency@10"}
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["datasets"]["cranfield.test"]) == {"bm25", "bm25:backend=rank_bm25"}


@pytest.mark.parametrize("name, split, metrics, min_first", [
    ("adi", None, ["nDCG@10", "MRR@10"], 0.2),
    ("cosqa", "test", ["MRR@10", "nDCG@10"], 0.1),
    ("mtrb/restbench", None, ["Sufficiency@5", "Sufficiency@10"], 0.05),
    ("mtrb/metatool", None, ["Sufficiency@5", "Sufficiency@10"], 0.2),
])
def test_other_collections(shared, tmp_path, name, split, metrics, min_first):
    ds = load_dataset(str(shared / name), split)
    outcomes = run(str(shared / name), ["bm25", "bm25:backend=rank_bm25"], metrics, out=tmp_path, split=split)
    assert [o.error for o in outcomes] == [None, None]
    assert outcomes[0].means == pytest.approx(outcomes[1].means, abs=1e-12)
    assert outcomes[0].means[metrics[0]] > min_first
    folder = pair_folder(tmp_path, ds.label, "bm25")
    if metrics[0].startswith("nDCG") or metrics[0].startswith("MRR"):
        measure = {"nDCG@10": "ndcg_cut.10"}
        assert outcomes[0].means["nDCG@10"] == pytest.approx(trec_means(folder, ds, measure)["nDCG@10"], abs=1e-12)


def test_irds_cranfield_offline_matches_the_beir_copy(shared, irds_home, tmp_path):
    env = {**os.environ, "IR_DATASETS_HOME": str(irds_home)}
    code = ("import sys; from rageval.cli import main; sys.exit(main(['run', '--dataset', 'irds:cranfield', "
            f"'--retriever', 'bm25', '--out', {str(tmp_path)!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    irds = json.loads((pair_folder(tmp_path, "cranfield", "bm25") / "metrics.json").read_text())
    run(str(shared / "cranfield"), ["bm25"], out=tmp_path / "beir")
    beir = json.loads((pair_folder(tmp_path / "beir", "cranfield.test", "bm25") / "metrics.json").read_text())
    assert irds["n_queries"] == beir["n_queries"] == 225
    # same judgments (grades reversed to higher-is-better); ir_datasets' text keeps its line breaks
    assert irds["metrics"]["nDCG@10"] == pytest.approx(beir["metrics"]["nDCG@10"], abs=0.02)


def test_resume_redoes_only_what_is_missing(shared, tmp_path):
    spec = str(shared / "adi")
    first = run(spec, ["bm25"], ["nDCG@10"], out=tmp_path)[0]
    folder = pair_folder(tmp_path, "adi.test", "bm25")
    assert not first.resumed
    again = run(spec, ["bm25"], ["nDCG@10"], out=tmp_path)[0]
    assert again.resumed and again.means == first.means
    (folder / "metrics.json").unlink()  # interrupted after the search: scoring is redone from run.trec
    trec_mtime = (folder / "run.trec").stat().st_mtime_ns
    third = run(spec, ["bm25"], ["nDCG@10", "MRR@10"], out=tmp_path)[0]
    assert third.resumed and (folder / "run.trec").stat().st_mtime_ns == trec_mtime
    assert third.means["nDCG@10"] == first.means["nDCG@10"]
    other = run(spec, ["bm25"], ["nDCG@10"], out=tmp_path, resume=False)[0]
    assert not other.resumed
    assert not list(tmp_path.rglob("*.part"))


def test_a_failing_retriever_is_reported_and_the_rest_goes_on(shared, tmp_path, capsys):
    down = "rewrite:method=gar,generator=[openai:model=m,base_url=http://127.0.0.1:9/v1,retries=0,timeout=2]"
    code = main(["run", "--dataset", str(shared / "adi"), "--retriever", down, "--retriever", "bm25",
                 "--out", str(tmp_path)])
    assert code == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "127.0.0.1:9" in out
    assert (pair_folder(tmp_path, "adi.test", "bm25") / "metrics.json").is_file()
    assert not (pair_folder(tmp_path, "adi.test", down) / "metrics.json").exists()
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["failed"][0]["retriever"] == down


@pytest.mark.parametrize("spec, message", [
    ("bm25:k1=-1", "bm25: need k1 >= 0"),
    ("bm25:k1=nan", "option k1='nan': expected a finite float"),
    ("bm25:b=inf", "option b='inf': expected a finite float"),
    ("bm25:stemmer=klingon", "klingon"),
])
def test_bad_option_values_exit_2_before_any_work(shared, tmp_path, capsys, spec, message):
    assert main(["run", "--dataset", str(shared / "adi"), "--retriever", spec, "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_two_specs_never_share_a_folder(tmp_path):
    specs = ["dense:query_prefix=x,doc_prefix=y", "dense:query_prefix=x_doc_prefix=y", "bm25:k1=0.9,b=0.4",
             "bm25:k1=0.9_b=0.4", "a/b", "a_b", "../../x", "/abs/path"]
    folders = [pair_folder(tmp_path, spec, spec) for spec in specs]
    assert len(set(folders)) == len(specs)
    for folder in folders:  # one safe path component each, below --out
        assert folder.parent.parent == tmp_path and not folder.name.startswith(".")


def test_a_dataset_name_stays_inside_out(shared, tmp_path):
    for name in ("../../escape", "/abs/escape", "a/b"):
        out = tmp_path / "runs"
        [outcome] = run(f"beir:{shared / 'adi'},name={name}", ["bm25"], ["nDCG@10"], out=out)
        assert outcome.error is None
        written = {p.resolve() for p in tmp_path.rglob("metrics.json")}
        assert all(out.resolve() in p.parents for p in written)
        results = json.loads((out / "results.json").read_text())
        assert f"{name}.test" in results["datasets"]
    assert not (tmp_path.parent / "escape").exists() and not Path("/abs/escape").exists()


def test_resume_never_trusts_a_run_file_without_its_manifest(shared, tmp_path):
    """A k=100 run finishes; a k=10 run into the same folder is killed after run.trec is renamed but
    before run.json: the next k=100 run must not score the 10-result file."""
    spec = str(shared / "adi")
    full = run(spec, ["bm25"], ["Recall@100"], k=100, out=tmp_path)[0]
    folder = pair_folder(tmp_path, "adi.test", "bm25")
    shallow = tmp_path / "shallow"
    run(spec, ["bm25"], ["nDCG@10"], k=10, out=shallow)  # 10 results per query
    (folder / "run.trec").write_bytes((pair_folder(shallow, "adi.test", "bm25") / "run.trec").read_bytes())
    (folder / "metrics.json").unlink()
    again = run(spec, ["bm25"], ["Recall@100"], k=100, out=tmp_path)[0]
    assert not again.resumed and again.means == full.means
    # the same with metrics.json left in place: its recorded run hash no longer matches
    (folder / "run.trec").write_bytes((pair_folder(shallow, "adi.test", "bm25") / "run.trec").read_bytes())
    third = run(spec, ["bm25"], ["Recall@100"], k=100, out=tmp_path)[0]
    assert not third.resumed and third.means == full.means


def test_resume_rescoring_respects_the_request_and_the_run_settings(shared, tmp_path):
    spec = str(shared / "adi")
    run(spec, ["bm25"], ["nDCG@10"], out=tmp_path)
    folder = pair_folder(tmp_path, "adi.test", "bm25")
    trec = (folder / "run.trec").stat().st_mtime_ns
    more = run(spec, ["bm25"], ["nDCG@10", "MRR@10"], out=tmp_path)[0]  # metrics.json kept: a new request
    assert "MRR@10" in more.means and json.loads((folder / "metrics.json").read_text())["request"]["metrics"] == \
        ["nDCG@10", "MRR@10"]
    assert (folder / "run.trec").stat().st_mtime_ns == trec  # re-scored from run.trec, not searched again
    deeper = run(spec, ["bm25"], ["nDCG@10"], k=200, out=tmp_path)[0]  # other run settings: searched again
    assert not deeper.resumed and (folder / "run.trec").stat().st_mtime_ns != trec
    settings = json.loads((folder / "run.json").read_text())["settings"]
    assert (settings["k_asked"], settings["k"]) == (200, 82)  # searched as deep as adi's 82 documents


def test_bad_specs_fail_before_any_work(shared, tmp_path, capsys):
    assert main(["run", "--dataset", str(shared / "adi"), "--retriever", "bm25:k2=1", "--out", str(tmp_path)]) == 2
    assert "has no option 'k2'" in capsys.readouterr().err
    assert main(["run", "--dataset", str(shared / "adi"), "--metric", "nDGC@10", "--out", str(tmp_path)]) == 2
    assert "unknown metric 'ndgc'" in capsys.readouterr().err
    assert main(["run", "--dataset", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2
    assert not list(tmp_path.iterdir())


def test_out_of_tree_plugin_installs_and_runs(shared, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(ROOT / "examples" / "rageval-example-plugin")], check=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
    listing = subprocess.run([sys.executable, "-m", "rageval.cli", "list"], env=env, capture_output=True,
                             text=True, check=True).stdout
    assert "tfidf" in listing and "TF-IDF cosine similarity" in listing
    proc = subprocess.run([sys.executable, "-m", "rageval.cli", "run", "--dataset", str(shared / "cranfield"),
                           "--retriever", "tfidf", "--retriever", "bm25", "--out", str(tmp_path / "out")],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((pair_folder(tmp_path / "out", "cranfield.test", "tfidf") / "metrics.json").read_text())
    assert 0.2 < metrics["metrics"]["nDCG@10"] < 0.5


@pytest.mark.slow
def test_bare_rageval_run_is_the_embedded_default(tmp_path, monkeypatch, capsys):
    """No dataset, no download: the standard library's test split with every default retriever."""
    monkeypatch.chdir(tmp_path)
    assert main(["run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("stdlib-py") and "\nbm25 " in out
    from rageval.retrievers.dense import Dense

    assert ("\ndense " in out) == Dense.usable()  # the bundled model needs no download
    if os.environ.get("CI", "").lower() == "true":  # CI installs rageval[all]: dense must be there
        assert "\ndense " in out
    metrics = json.loads(next(tmp_path.glob("runs/stdlib-py*.test-*/bm25-*/metrics.json")).read_text())
    assert metrics["n_queries"] > 300 and metrics["metrics"]["MRR@10"] > 0.2


def test_the_bm25_index_is_cached_by_configuration_and_corpus(shared, tmp_path, monkeypatch):
    monkeypatch.setenv("RAGEVAL_CACHE", str(tmp_path / "cache"))
    spec = str(shared / "cranfield")
    first = run(spec, ["bm25"], ["nDCG@10"], out=tmp_path / "a")[0]
    second = run(spec, ["bm25"], ["nDCG@10"], out=tmp_path / "b")[0]
    other = run(spec, ["bm25:k1=0.9"], ["nDCG@10"], out=tmp_path / "b")[0]
    assert (first.timings["index_from_cache"], second.timings["index_from_cache"]) == (False, True)
    assert other.timings["index_from_cache"] is False
    a, b = (pair_folder(tmp_path / x, "cranfield.test", "bm25") / "run.trec" for x in "ab")
    assert a.read_text() == b.read_text()
    assert run(spec, ["bm25:backend=rank_bm25"], ["nDCG@10"], out=tmp_path / "c")[0].timings["index_from_cache"] is False


@pytest.mark.slow
def test_the_documented_install_works_beside_a_clone_named_rageval(shared, tmp_path):
    """README: ``pip install .`` is not shadowed by a folder named like the package in the current folder."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(ROOT)], check=True)
    parent = tmp_path / "work"
    parent.mkdir()
    (parent / "rageval").symlink_to(ROOT)  # the clone, named as the package
    snippet = ("import rageval; ds = rageval.load_dataset(%r); r = rageval.get_retriever('bm25'); "
               "r.index(ds.corpus); print(rageval.evaluate(ds, r.search(ds.queries, 10), ['nDCG@10']).means)"
               % f"beir:{shared / 'adi'}")
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = subprocess.run([sys.executable, "-c", snippet], cwd=parent, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "nDCG@10" in proc.stdout


def test_irds_streams_the_documents_into_text_columns(shared, irds_home):
    """irds:cranfield's 1,400 documents are streamed from docs_iter() into TextColumns (no str kept
    per document) that read back exactly what ir_datasets gives (an empty text is replaced by the
    document's default_text(), as before); extra fields stay in the meta."""
    env = {**os.environ, "IR_DATASETS_HOME": str(irds_home)}
    code = ("import json, ir_datasets; from rageval import load_dataset; from rageval.data.text_column import TextColumn\n"
            "c = load_dataset('irds:cranfield').corpus\n"
            "docs = list(ir_datasets.load('cranfield').docs_iter())\n"
            "print(json.dumps({'columns': isinstance(c.texts, TextColumn) and isinstance(c.titles, TextColumn),\n"
            "  'same': c.ids == [d.doc_id for d in docs] and list(c.texts) == [d.text or d.default_text() for d in docs]\n"
            "          and list(c.titles) == [d.title for d in docs],\n"
            "  'metas': c.metas[0] == {'author': docs[0].author, 'bib': docs[0].bib}, 'n': len(c)}))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == {"columns": True, "same": True, "metas": True, "n": 1400}


def test_sigterm_ends_a_run_like_ctrl_c(shared, tmp_path):
    code = ("import sys, time; import rageval.running.benchmark as r; slow = r.retrieve\n"
            "def waiting(*a, **k):\n    time.sleep(30)\n    return slow(*a, **k)\n"
            "r.retrieve = waiting\nfrom rageval.cli import main\n"
            f"sys.exit(main(['run', '--dataset', {str(shared / 'adi')!r}, '--retriever', 'bm25', "
            f"'--out', {str(tmp_path)!r}]))")
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "interrupted; finished results are kept" in err
    assert not list(tmp_path.rglob("*.part")) and not list(tmp_path.rglob("metrics.json"))


@pytest.mark.slow
@pytest.mark.parametrize("retrievers", [["bm25"], ["dense"]])
def test_two_fresh_processes_write_identical_run_files(shared, tmp_path, retrievers):
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"out{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed, "RAGEVAL_CACHE": str(tmp_path / f"cache{seed}")}
        code = ("import sys; from rageval import benchmark as run; "
                "run(sys.argv[1], sys.argv[3:], ['nDCG@10'], out=sys.argv[2])")
        subprocess.run([sys.executable, "-c", code, str(shared / "adi"), str(out), *retrievers], env=env,
                       check=True, capture_output=True)
        outs.append(out)
    for spec in retrievers:
        a, b = (pair_folder(o, "adi.test", spec) / "run.trec" for o in outs)
        assert a.read_bytes() == b.read_bytes()
