"""Paired tests against scipy and by hand, corrections on hand-made lists, `rageval evaluate` against
pytrec_eval on the same files, `rageval compare` on real runs, and its bad input."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import pytrec_eval
from scipy import stats

from rageval import RagevalError, Run, read_qrels
from rageval.cli import main
from rageval.scoring.significance import correct, interval, p_values, randomization

RNG = np.random.default_rng(7)
A = RNG.random(40)
B = np.clip(A + RNG.normal(0.05, 0.1, 40), 0, 1)


def test_ttest_and_wilcoxon_equal_scipy():
    assert p_values(A, B, "ttest")[0] == pytest.approx(stats.ttest_rel(A, B).pvalue, abs=1e-12)
    assert p_values(A, B, "wilcoxon")[0] == pytest.approx(stats.wilcoxon(A, B).pvalue, abs=1e-12)
    assert p_values(A, A, "ttest")[0] == 1.0 and p_values(A, A, "wilcoxon")[0] == 1.0  # no difference, not NaN


def test_randomization_enumerates_every_sign_flip_for_small_n():
    d = np.array([0.5, -0.2, 0.3, 0.1, 0.0, 0.4])
    # by hand: the share of the 2^6 sign vectors s with |sum(s * d)| >= |sum(d)| = 1.1
    exact = sum(abs(sum(s * x for s, x in zip(signs, d))) >= 1.1 - 1e-12
                for signs in itertools.product((1, -1), repeat=6)) / 64
    # by hand: with every non-zero term positive the sum is 1.5; flipping a set F of them takes 2 * sum(F)
    # off, so |sum| >= 1.1 needs sum(F) <= 0.2: F = {}, {0.1} or {0.2}; times 2 (all signs reversed), times
    # 2 (the sign of the 0.0 term): 12 of 64
    assert randomization(d, n=64)[0] == exact == 12 / 64
    assert randomization(np.vstack([d, -d]), n=10_000)[1] == exact  # 2^6 <= n: exact, the same for -d


def test_randomization_is_seeded_and_close_to_exact():
    d = B - A
    assert randomization(d, seed=3)[0] == randomization(d, seed=3)[0]
    small = d[:12]
    exact = randomization(small, n=4096)[0]
    assert randomization(small, n=4095, seed=1)[0] == pytest.approx(exact, abs=0.03)


def test_corrections_on_hand_made_lists():
    p = [0.01, 0.04, 0.03, 0.20]
    assert correct(p, "bonferroni").tolist() == pytest.approx([0.04, 0.16, 0.12, 0.80])
    # Holm: sorted 0.01*4, 0.03*3, 0.04*2, 0.20*1 -> 0.04, 0.09, 0.08 -> 0.09 (monotone), 0.20
    assert correct(p, "holm").tolist() == pytest.approx([0.04, 0.09, 0.09, 0.20])
    # BH: sorted 0.01*4/1, 0.03*4/2, 0.04*4/3, 0.20*4/4 -> 0.04, 0.06, 0.0533, 0.20 -> min from the top
    assert correct(p, "bh").tolist() == pytest.approx([0.04, 4 * 0.04 / 3, 4 * 0.04 / 3, 0.20])
    assert correct(p, "none").tolist() == p
    with pytest.raises(RagevalError, match="unknown correction 'sidak'"):
        correct(p, "sidak")


def test_bootstrap_interval_is_seeded_and_contains_the_mean():
    low, high = interval(A, seed=1)
    assert (low, high) == interval(A, seed=1) and low < A.mean() < high
    assert interval([0.5, 0.5, 0.5]) == (0.5, 0.5)
    with pytest.raises(RagevalError, match="at least 2 queries"):
        interval([0.5])
    with pytest.raises(RagevalError, match="at least 2 queries"):
        p_values(A[:1], B[:1])


def test_evaluate_a_run_file_equals_pytrec_eval(tmp_path, capsys):
    qrels = tmp_path / "test.qrels"
    qrels.write_text("q1 0 a 2\nq1 0 c 1\nq2 0 b 1\nq3 0 e 0\n")
    run = tmp_path / "mine.trec"
    run.write_text("q1 Q0 b 1 0.9 x\nq1 Q0 a 2 0.5 x\nq1 Q0 d 3 0.5 x\nq1 Q0 c 4 0.1 x\nq3 Q0 e 1 1.0 x\n")
    assert main(["evaluate", "--run", str(run), "--qrels", str(qrels), "--metric", "nDCG@3", "--metric", "P@2",
                 "--out", str(tmp_path / "o")]) == 0
    [folder] = (tmp_path / "o").glob("*/*/")
    rows = [json.loads(line) for line in (folder / "per_query.jsonl").read_text().splitlines()]
    reference = pytrec_eval.RelevanceEvaluator(read_qrels(qrels), {"ndcg_cut.3", "P.2"}).evaluate(
        Run.read_trec(run).to_dict())
    assert rows[0] == {"query_id": "q1", "nDCG@3": reference["q1"]["ndcg_cut_3"], "P@2": reference["q1"]["P_2"]}
    assert rows[1] == {"query_id": "q2", "nDCG@3": 0.0, "P@2": 0.0}  # judged, no results
    assert len(rows) == 2  # q3 has no relevant judgment
    run.write_text("q1 Q0 b 1 0.9\n")
    assert main(["evaluate", "--run", str(run), "--qrels", str(qrels)]) == 2
    assert "mine.trec:1: expected 6 columns" in capsys.readouterr().err


@pytest.fixture(scope="module")
def adi_runs(shared, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    assert main(["run", "--dataset", str(shared / "adi"), "--retriever", "bm25", "--retriever", "bm25:k1=0.3,b=0.1",
                 "--retriever", "rewrite:base=bm25,method=rm3", "--metric", "nDCG@10", "--metric", "MRR@10",
                 "--out", str(out)]) == 0
    return out


def test_compare_on_real_runs(adi_runs, tmp_path, capsys):
    capsys.readouterr()
    assert main(["compare", str(adi_runs), "--metric", "nDCG@10", "--test", "ttest", "--correction", "none",
                 "--json", str(tmp_path / "c.json")]) == 0
    text = capsys.readouterr().out
    assert "adi.test: nDCG@10 (35 queries; ttest, none correction, alpha 0.05)" in text
    data = json.loads((tmp_path / "c.json").read_text())
    [table] = data["tables"]
    base, *others = table["rows"]
    assert base["system"] == "bm25" and base["p"] is None
    per_query = {}
    for folder in adi_runs.glob("*/*/"):
        meta = json.loads((folder / "metrics.json").read_text())
        rows = [json.loads(line) for line in (folder / "per_query.jsonl").read_text().splitlines()]
        per_query[meta["retriever"]] = np.array([r["nDCG@10"] for r in sorted(rows, key=lambda r: r["query_id"])])
    for row in others:
        assert row["p"] == pytest.approx(stats.ttest_rel(per_query[row["system"]], per_query["bm25"]).pvalue, abs=1e-12)
        assert row["difference"] == pytest.approx(per_query[row["system"]].mean() - per_query["bm25"].mean())
        assert row["low"] < row["mean"] < row["high"]


def test_compare_bad_input(adi_runs, tmp_path, capsys):
    assert main(["compare", str(adi_runs), "--baseline", "bm42"]) == 2
    assert "baseline 'bm42' is not a system of adi.test; there: bm25" in capsys.readouterr().err
    assert main(["compare", str(tmp_path)]) == 2
    assert "no finished run" in capsys.readouterr().err
    assert main(["compare", str(adi_runs), "--metric", "P@5"]) == 2
    assert "P@5 not scored for every system" in capsys.readouterr().err


@pytest.fixture(scope="module")
def ranx_tests():
    """ranx's tests (the reference implementation); its first call compiles (numba), once per session."""
    from ranx import statistical_tests  # a test dependency (pip install -e ".[test]")

    return statistical_tests


def test_against_ranx_on_the_same_arrays(ranx_tests):
    rng = np.random.default_rng(11)
    for n in (30, 200):
        a = rng.random(n)
        b = np.clip(a + rng.normal(0.02, 0.15, n), 0, 1)
        assert p_values(a, b, "ttest")[0] == pytest.approx(ranx_tests.paired_student_t_test(a, b, 0.05)[0], abs=1e-6)
        # two Monte Carlo estimates of one p (ranx's permutations are not reproducible run to run): at 100,000
        # permutations each has a standard error of at most 0.0016, so 0.01 is more than 4 of their difference's
        theirs = ranx_tests.fisher_randomization_test(a, b, 100_000, 0.05, 42)[0]
        assert p_values(b, a, "randomization", n=100_000, seed=5)[0] == pytest.approx(theirs, abs=0.01)


def test_run_baseline_marks_agree_with_compare(shared, tmp_path, capsys):
    out = tmp_path / "runs"
    plain = "bm25:tokenizer=whitespace,lowercase=false,stemmer=none,stopwords=none,split_identifiers=false"
    assert main(["run", "--dataset", str(shared / "cranfield"), "--retriever", "bm25", "--retriever", plain,
                 "--retriever", "bm25:k1=0.9,b=0.4", "--metric", "nDCG@10", "--metric", "Recall@100",
                 "--baseline", "bm25", "--out", str(out)]) == 0
    board = capsys.readouterr().out
    assert main(["compare", str(out), "--baseline", "bm25", "--json", str(tmp_path / "c.json")]) == 0
    capsys.readouterr()
    tables = json.loads((tmp_path / "c.json").read_text())["tables"]
    marked = 0
    for t in tables:
        for r in t["rows"]:
            line = next(line for line in board.splitlines() if line.startswith(r["system"] + " "))
            mark = "" if not r["significant"] else ("▲" if r["difference"] > 0 else "▼")
            assert f"{r['mean']:.4f}{mark}" in line.split()
            marked += bool(mark)
    assert marked, "the whitespace tokenizer should differ significantly from bm25 on cranfield"
    for folder in (out).glob("*/*/"):
        meta = json.loads((folder / "metrics.json").read_text())
        rows = [json.loads(line) for line in (folder / "per_query.jsonl").read_text().splitlines()]
        assert meta["intervals"]["nDCG@10"] == list(interval([r["nDCG@10"] for r in rows]))
        assert set(meta["ties"]) == {"nDCG@10", "Recall@100"}
    results = json.loads((out / "results.json").read_text())["datasets"]["cranfield.test"]
    assert results["bm25"]["intervals"]["nDCG@10"][0] < results["bm25"]["metrics"]["nDCG@10"]
    assert main(["run", "--dataset", str(shared / "adi"), "--retriever", "bm25", "--baseline", "dense",
                 "--out", str(out)]) == 2
    assert "--baseline 'dense' is not one of the --retriever specs: bm25" in capsys.readouterr().err


def test_tie_mark_in_the_leaderboard():
    from rageval.running.benchmark import Outcome
    from rageval.reporting.leaderboard import leaderboard

    near = Outcome("d", "a", {"P@5": 0.30}, {}, ties={"P@5": {"expected": 0.304, "min": 0.2, "max": 0.4}})
    far = Outcome("d", "b", {"P@5": 0.30}, {}, ties={"P@5": {"expected": 0.306, "min": 0.2, "max": 0.4}})
    text = leaderboard([near, far], ["P@5"])
    assert "0.3000†" in text.splitlines()[4] and "†" not in text.splitlines()[3]  # b is 0.006 away, a 0.004
    assert "† ties decide this value" in text


def test_compare_reads_runs_made_elsewhere_beside_its_own(adi_runs, shared, tmp_path, capsys, caplog):
    import shutil

    out = tmp_path / "mixed"
    shutil.copytree(adi_runs, out)
    bm25 = next(f for f in out.glob("*/*/") if json.loads((f / "metrics.json").read_text())["retriever"] == "bm25")
    lines = (bm25 / "run.trec").read_text().splitlines()
    first_query = lines[0].split()[0]
    elsewhere = tmp_path / "elsewhere.trec"  # bm25's run without its first query, and without 2 queries' results
    kept = [line for line in lines if line.split()[0] != first_query]
    dropped = {line.split()[0] for line in kept[:1]}
    elsewhere.write_text("\n".join(line for line in kept if line.split()[0] not in dropped) + "\n")
    assert main(["evaluate", "--run", str(elsewhere), "--qrels", str(shared / "adi" / "qrels" / "test.tsv"),
                 "--metric", "nDCG@10", "--metric", "MRR@10", "--out", str(out), "--dataset-name", "adi.test"]) == 0
    capsys.readouterr()
    assert main(["compare", str(out), "--metric", "nDCG@10", "--baseline", "bm25", "--json",
                 str(tmp_path / "c.json")]) == 0
    text = capsys.readouterr().out
    assert "elsewhere" in text and "35 queries, 2 without results scored 0 (as trec_eval does)" in text
    [table] = json.loads((tmp_path / "c.json").read_text())["tables"]
    assert table["filled"]["elsewhere"] == 2 and table["filled"]["bm25"] == 0
    # a system scored on fewer queries: the comparison runs on the queries all share, with a warning
    rows = (bm25 / "per_query.jsonl").read_text().splitlines()
    (bm25 / "per_query.jsonl").write_text("\n".join(rows[3:]) + "\n")
    assert main(["compare", str(out), "--metric", "nDCG@10"]) == 0
    assert "nDCG@10 (32 queries" in capsys.readouterr().out
    assert "bm25 32" in caplog.text and "compared on the 32 they share" in caplog.text


def test_across_datasets_by_hand():
    from rageval.scoring.compare import Row, Table, across

    def table(dataset, difference, p):
        return Table(dataset, "nDCG@10", 10, {}, [Row("base", 0.5, 0.4, 0.6),
                                                   Row("new", 0.5 + difference, 0.4, 0.7, "base", difference, p, p < 0.05)])

    tables = [table("a", 0.10, 0.01), table("b", 0.02, 0.04), table("c", -0.03, 0.02)]
    [summary] = across(tables, correction="holm")
    # Holm over the three datasets: 0.01*3 = 0.03, 0.02*2 = 0.04, 0.04*1 -> 0.04: all below 0.05
    assert (summary["better"], summary["worse"], summary["datasets"]) == (2, 1, 3)
    assert summary["mean_difference"] == pytest.approx(0.03)
    [bonferroni] = across(tables, correction="bonferroni")  # 0.03, 0.12, 0.06: only dataset a
    assert (bonferroni["better"], bonferroni["worse"]) == (1, 0)


def write_pair(out, dataset, system, values, measure="nDCG@10", order=None):
    """A finished pair folder made by rageval's own writer (``RunFolder.write_scores``), its
    per_query.jsonl in ``order`` (default: the order of ``values``)."""
    from rageval.store.run_folder import RunFolder, pair_folder
    from rageval.store.run_store import PairKey, PairResult

    folder = pair_folder(out, dataset, system)
    folder.mkdir(parents=True)
    rows = [{"query_id": q, measure: values[q]} for q in (order or values)]
    RunFolder(folder, resume=False).write_scores(rows, PairResult(PairKey(dataset, system), {
        measure: float(np.mean(list(values.values())))}, n_queries=len(values)))
    return folder


def test_pairwise_json_holds_plain_json_with_the_right_values(adi_runs, tmp_path, capsys):
    target = tmp_path / "compare.json"
    assert main(["compare", str(adi_runs), "--pairwise", "--test", "ttest", "--correction", "bh",
                 "--json", str(target)]) == 0
    capsys.readouterr()
    data = json.loads(target.read_text())  # was: TypeError (numpy bools), exit 1, no file
    per_query = {}
    for folder in adi_runs.glob("*/*/"):
        meta = json.loads((folder / "metrics.json").read_text())
        rows = sorted((json.loads(line) for line in (folder / "per_query.jsonl").read_text().splitlines()),
                      key=lambda r: r["query_id"])
        per_query[meta["retriever"]] = {m: np.array([r[m] for r in rows]) for m in ("nDCG@10", "MRR@10")}
    names = ["bm25", "bm25:k1=0.3,b=0.1", "rewrite:base=bm25,method=rm3"]  # folder order
    pairs = list(itertools.combinations(names, 2))
    measures = [t["measure"] for t in data["tables"]]
    raw = [stats.ttest_rel(per_query[a][m], per_query[b][m]).pvalue for m in measures for a, b in pairs]
    expected = iter(stats.false_discovery_control(raw, method="bh"))  # BH over every comparison of the dataset
    for t in data["tables"]:
        assert [r["system"] for r in t["rows"]] == [f"{a} vs {b}" for a, b in pairs]
        for row, (a, b) in zip(t["rows"], pairs):
            p = next(expected)
            assert type(row["significant"]) is bool and row["significant"] == (p < 0.05)
            assert row["p"] == pytest.approx(p, abs=1e-12) and row["against"] == b
            assert row["difference"] == pytest.approx(per_query[a][t["measure"]].mean() - per_query[b][t["measure"]].mean())


def test_queries_are_paired_by_id_not_by_stored_order(tmp_path, capsys):
    out = tmp_path / "out"
    a = {"q1": 0.9, "q2": 0.1, "q3": 0.8, "q4": 0.2, "q5": 0.7, "q6": 0.3}
    write_pair(out, "d", "a", a)
    write_pair(out, "d", "b", {q: v - 0.1 for q, v in a.items()}, order=list(reversed(a)))  # stored q6..q1
    write_pair(out, "d", "c", dict(a), order=["q2", "q4", "q6", "q1", "q3", "q5"])
    assert main(["compare", str(out), "--baseline", "a", "--correction", "none", "--json", str(tmp_path / "c.json")]) == 0
    capsys.readouterr()
    [table] = json.loads((tmp_path / "c.json").read_text())["tables"]
    _, b, c = table["rows"]
    # by hand: paired by id, b - a is -0.1 on every query; of the 2^6 sign flips (every one enumerated)
    # only "none" and "all" reach |sum| = 0.6: p = 2/64. Paired by stored order it would be
    # 0.2-0.9, 0.6-0.1, ...: differences of both signs and a far larger p.
    assert b["difference"] == pytest.approx(-0.1) and b["p"] == 2 / 64 and b["significant"]
    # c holds a's very values in another order: no difference on any query, p = 1
    assert c["difference"] == 0 and c["p"] == 1.0 and not c["significant"]
    assert main(["compare", str(out), "--baseline", "a", "--test", "wilcoxon", "--json", str(tmp_path / "w.json")]) == 0
    [table] = json.loads((tmp_path / "w.json").read_text())["tables"]
    assert table["rows"][2]["p"] == 1.0  # identical per query (wilcoxon by stored order: p < 1)


def test_a_baseline_missing_from_some_datasets_skips_them(tmp_path, capsys, caplog):
    out = tmp_path / "out"
    values = {"q1": 0.5, "q2": 0.25, "q3": 1.0}
    write_pair(out, "one", "bm25", values)
    write_pair(out, "one", "dense", {q: v / 2 for q, v in values.items()})
    write_pair(out, "two", "dense", values)
    write_pair(out, "two", "splade", values)
    assert main(["compare", str(out), "--baseline", "bm25", "--json", str(tmp_path / "c.json")]) == 0
    text = capsys.readouterr().out
    assert "one: nDCG@10" in text and "two:" not in text
    assert "two skipped: baseline 'bm25' is not one of its systems (dense, splade)" in caplog.text
    [table] = json.loads((tmp_path / "c.json").read_text())["tables"]
    assert table["dataset"] == "one" and table["rows"][1]["difference"] == pytest.approx(-7 / 24)
    assert main(["compare", str(out), "--baseline", "colbert"]) == 2
    assert ("baseline 'colbert' is not a system of any dataset; there are: one: bm25, dense; two: dense, splade"
            in capsys.readouterr().err)


@pytest.mark.parametrize("option, message", [
    (["--alpha", "2"], "alpha must be a number between 0 and 1 (exclusive), got 2.0"),
    (["--alpha", "-1"], "alpha must be a number between 0 and 1 (exclusive), got -1.0"),
    (["--alpha", "nan"], "argument --alpha: expected a finite float, got 'nan'"),
    (["--alpha", "0.٥"], "argument --alpha: expected float: ASCII digits with an optional sign"),
    (["--permutations", "1_0"], "argument --permutations: expected int: ASCII digits with an optional sign"),
    (["--permutations", "10000000000"], "permutations must be at most 10,000,000"),
    (["--permutations", "99999999999999999999"], "permutations must be at most 10,000,000"),
    (["--seed", "1_0"], "argument --seed: expected int: ASCII digits with an optional sign, got '1_0'"),
    (["--alpha", "1"], "alpha must be a number between 0 and 1 (exclusive), got 1.0"),
    (["--permutations", "0"], "permutations must be a whole number of at least 1, got 0"),
    (["--permutations", "-5"], "permutations must be a whole number of at least 1, got -5"),
    (["--seed", "-1"], "seed must be a whole number of at least 0, got -1"),
    (["--pairwise", "--baseline", "a"], "a baseline and pairwise comparisons exclude each other"),
    (["--dataset", "d", "--dataset", "e"], "no finished run of e under"),
])
def test_compare_option_values_are_checked(tmp_path, capsys, option, message):
    out = tmp_path / "out"
    write_pair(out, "d", "a", {"q1": 0.5, "q2": 0.25, "q3": 1.0})
    write_pair(out, "d", "b", {"q1": 0.5, "q2": 0.5, "q3": 0.0})
    try:
        code = main(["compare", str(out), *option, "--json", str(tmp_path / "c.json")])
    except SystemExit as e:  # argparse's own check of a number's form
        code = e.code
    assert code == 2
    assert message in capsys.readouterr().err and not (tmp_path / "c.json").exists()


def test_significance_api_checks_its_arguments():
    from rageval.scoring.compare import System, across, compare
    from rageval.scoring.significance import bootstrap_test

    for call in (lambda: p_values(A, B, n=0), lambda: randomization(B - A, n=-5), lambda: bootstrap_test(B - A, n=0),
                 lambda: p_values(A, B, "bootstrap", n=2.5)):
        with pytest.raises(RagevalError, match="permutations must be a whole number of at least 1"):
            call()
    with pytest.raises(RagevalError, match="seed must be a whole number of at least 0, got -1"):
        p_values(A, B, seed=-1)
    with pytest.raises(RagevalError, match="the interval's level must be a number between 0 and 1"):
        interval(A, level=1.5)
    with pytest.raises(RagevalError, match="unknown test 'z'"):
        p_values(A, B, "z")
    with pytest.raises(RagevalError, match="unknown correction 'sidak'"):
        correct([], "sidak")
    systems = [System("d", "a", {"m": dict(enumerate(A))}), System("d", "b", {"m": dict(enumerate(B))})]
    for alpha in (0, 1, 2, -0.5, float("nan"), True):
        with pytest.raises(RagevalError, match="alpha must be a number between 0 and 1"):
            compare(systems, alpha=alpha)
        with pytest.raises(RagevalError, match="alpha must be a number between 0 and 1"):
            across([], alpha=alpha)
    with pytest.raises(RagevalError, match="permutations must be a whole number of at least 1, got 0"):
        compare(systems, permutations=0)


@pytest.mark.parametrize("content, reason", [
    ('{"dataset": ', "metrics.json is not valid JSON"),
    ("", "metrics.json is empty"),
    ("[]", "metrics.json holds an array, not a rageval metrics object"),
    ('{"dataset": "d", "retriever": "a"}', 'metrics.json lacks "metrics"'),
    (None, "no metrics.json (interrupted, or its retriever failed)"),
])
def test_a_pair_that_is_not_finished_is_named_and_the_baseline_does_not_change_silently(
        tmp_path, capsys, caplog, content, reason):
    out = tmp_path / "out"
    broken = write_pair(out, "d", "a", {"q1": 0.5, "q2": 0.25, "q3": 1.0})  # the first: the default baseline
    write_pair(out, "d", "b", {"q1": 0.5, "q2": 0.5, "q3": 0.0})
    write_pair(out, "d", "c", {"q1": 1.0, "q2": 0.5, "q3": 0.5})
    if content is None:
        (broken / "metrics.json").unlink()
    else:
        (broken / "metrics.json").write_text(content)
    assert main(["compare", str(out), "--json", str(tmp_path / "c.json")]) == 0
    capsys.readouterr()
    # without a readable metrics.json (and, as for rageval evaluate's pairs, no run.json) a pair is named by its folder
    assert f"{broken}: {broken.name} left out: {reason}" in caplog.text
    assert f"d: the baseline is b, not {broken.name}, which is left out (see above); name one with --baseline" \
        in caplog.text
    [table] = json.loads((tmp_path / "c.json").read_text())["tables"]
    assert [r["system"] for r in table["rows"]] == ["b", "c"] and table["rows"][1]["against"] == "b"
    caplog.clear()
    assert main(["export", str(out), "--file", str(tmp_path / "r.csv")]) == 0
    assert f"{broken}: {broken.name} left out: {reason}" in caplog.text
    assert sorted(set(l.split(",")[1] for l in (tmp_path / "r.csv").read_text().splitlines()[1:])) == ["b", "c"]
    assert main(["compare", str(out), "--baseline", "a"]) == 2  # a left-out pair is no baseline
    assert "baseline 'a' is not a system of d; there: b, c" in capsys.readouterr().err


def test_a_corrupt_per_query_file_leaves_its_pair_out(tmp_path, capsys, caplog):
    out = tmp_path / "out"
    write_pair(out, "d", "a", {"q1": 0.5, "q2": 0.25, "q3": 1.0})
    broken = write_pair(out, "d", "b", {"q1": 0.5, "q2": 0.5, "q3": 0.0})
    write_pair(out, "d", "c", {"q1": 1.0, "q2": 0.5, "q3": 0.5})
    (broken / "per_query.jsonl").write_text('{"query_id": "q1", "nDCG@10": 0.5}\n{"query_id": "q2", "nDCG@10": "x"}\n')
    assert main(["compare", str(out), "--json", str(tmp_path / "c.json")]) == 0
    assert f"{broken}: b left out: {broken / 'per_query.jsonl'}:2: nDCG@10 of 'q2' is not a number: 'x'" in caplog.text
    (broken / "per_query.jsonl").unlink()
    assert main(["compare", str(out)]) == 0
    assert f"{broken}: b left out: no per_query.jsonl" in caplog.text


def test_draws_are_bounded_in_the_api_too():
    from rageval.scoring.significance import MAX_DRAWS, bootstrap_test, check_draws

    assert MAX_DRAWS == 10_000_000 and check_draws(MAX_DRAWS) == MAX_DRAWS
    for call in (lambda: check_draws(MAX_DRAWS + 1), lambda: randomization(B - A, n=10**10),
                 lambda: bootstrap_test(B - A, n=10**20), lambda: interval(A, n=MAX_DRAWS + 1)):
        with pytest.raises(RagevalError, match="must be at most 10,000,000"):
            call()


def test_an_interrupted_compare_says_nothing_was_written(tmp_path, capsys, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("rageval.cli.compare.compare", interrupt)
    out = tmp_path / "out"
    write_pair(out, "d", "a", {"q1": 0.5, "q2": 0.25, "q3": 1.0})
    write_pair(out, "d", "b", {"q1": 0.5, "q2": 0.5, "q3": 0.0})
    assert main(["compare", str(out), "--json", str(tmp_path / "c.json")]) == 130
    err = capsys.readouterr().err
    assert "rageval: interrupted; nothing was written" in err and "resume" not in err
    assert not (tmp_path / "c.json").exists()


def test_seed_and_draws_must_be_whole_numbers_not_floats_or_bools():
    from rageval.scoring.significance import check_draws, check_seed

    assert (check_seed(0), check_seed(np.int64(7)), check_draws(np.int32(5))) == (0, 7, 5)
    for seed in (1.5, 2.0, True, "3"):  # 1.5 would seed numpy as 1, silently
        with pytest.raises(RagevalError, match="seed must be a whole number of at least 0"):
            check_seed(seed)
        with pytest.raises(RagevalError, match="seed must be a whole number of at least 0"):
            p_values(A, B, seed=seed)
    for n in (True, 10.0, "10"):
        with pytest.raises(RagevalError, match="permutations must be a whole number of at least 1"):
            check_draws(n)


def test_plain_turns_numpy_values_into_json_types_and_non_finite_numbers_into_null():
    import math

    from rageval.scoring.compare import Row, Table, plain, to_json

    value = plain({1: np.float32("inf"), "b": (np.float64(0.5), -math.inf, float("nan")), "c": [np.bool_(True)],
                   "d": np.int64(3)})
    assert value == {"1": None, "b": [0.5, None, None], "c": [True], "d": 3}
    assert [type(v) for v in (value["b"][0], value["c"][0], value["d"])] == [float, bool, int]
    [table] = to_json([Table("d", "m", 2, {"a": 0}, [Row("a", float("nan"), np.float64("nan"), 1.0)])])
    assert table["rows"][0]["mean"] is None and table["rows"][0]["low"] is None
    assert json.loads(json.dumps(table, allow_nan=False)) == table  # strict JSON


def test_every_dataset_lacking_the_baseline_is_named_in_its_own_warning(caplog):
    from rageval.scoring.compare import lacking_baseline

    systems = {"one": ["bm25", "dense"], "two": ["dense"], "three": ["splade", "dense"]}
    assert lacking_baseline(systems, "bm25") == ["two", "three"]
    assert "two skipped: baseline 'bm25' is not one of its systems (dense)" in caplog.text
    assert "three skipped: baseline 'bm25' is not one of its systems (splade, dense)" in caplog.text
    caplog.clear()
    assert lacking_baseline(systems, "dense") == [] and "skipped" not in caplog.text
