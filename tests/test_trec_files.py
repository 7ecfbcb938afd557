"""TREC run and qrels input that is never misread: trec_eval's grammar for grades, ranks and scores, one
grade range, ids that reach trec_eval's C code whole, the same checks on runs and judgments built in
Python, and every trec_eval measure by its name with pytrec_eval's own values."""
from __future__ import annotations

import re

import numpy as np
import pytest
import pytrec_eval
from conftest import write_beir

from rageval import Qrels, Run, evaluate, load_dataset, read_qrels
from rageval.errors import DataError, RagevalError, SpecError
from rageval.metrics import parse_measure
from rageval.metrics.trec_eval import AT_DEPTH, AT_FRACTION, NOT_MEANS, PLAIN
from rageval.data.trec import MAX_GRADE, MIN_GRADE


def qrels_file(tmp_path, text: str):
    path = tmp_path / "test.qrels"
    path.write_text(text, encoding="utf-8")
    return path


def run_file(tmp_path, text: str):
    path = tmp_path / "run.trec"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("grade", ["1_0", "\u0661", "1.0", "0x1", "+", "1e3", "\uff11", "10\u00b2"])
def test_grades_trec_eval_would_not_read_are_errors(tmp_path, grade):
    path = qrels_file(tmp_path, f"q1 0 d0 1\nq1 0 d1 {grade}\n")
    with pytest.raises(DataError, match=rf"test.qrels:2: score {re.escape(repr(grade))} is not an integer"):
        read_qrels(path)


def test_grades_are_an_optional_sign_and_ascii_digits(tmp_path):
    path = qrels_file(tmp_path, "q1 0 d1 +2\nq1 0 d2 -1\nq1 0 d3 007\nq2\td4\t1000\nq2\td5\t-1000\n")
    assert read_qrels(path) == {"q1": {"d1": 2, "d2": -1, "d3": 7}, "q2": {"d4": 1000, "d5": -1000}}


@pytest.mark.parametrize("grade", ["1001", "-1001", "2147483647", "4294967297", "1" + "0" * 30])
def test_grades_outside_the_one_range_are_errors(tmp_path, grade):
    assert (MIN_GRADE, MAX_GRADE) == (-1000, 1000)
    path = qrels_file(tmp_path, f"q1\td1\t{grade}\n")
    with pytest.raises(DataError, match=rf"test.qrels:1: score '{grade}' is outside the grades rageval scores, "
                                        r"-1000 to 1000"):
        read_qrels(path)


def test_columns_split_on_ascii_whitespace_as_trec_eval_does(tmp_path):
    # Python's split() takes U+00A0 / U+2003 for separators: these lines used to be read as other columns
    path = qrels_file(tmp_path, "q1 d\u00a0x 1\n")
    with pytest.raises(DataError, match=r"test.qrels:1: \"corpus-id\" must be a non-empty id without whitespace, "
                                        r"got 'd\\xa0x'"):
        read_qrels(path)
    path = run_file(tmp_path, "q1 Q0 d\u2003x 1 1.0\n")
    with pytest.raises(DataError, match=r"run.trec:1: expected 6 columns"):
        Run.read_trec(path)


@pytest.mark.parametrize("score, problem", [
    ("nan", "is not a number"), ("inf", "is not a number"), ("-Infinity", "is not a number"),
    ("1_000", "is not a number"), ("\u0661", "is not a number"), ("0x10", "is not a number"),
    ("1e400", "is too large for a float"), ("-1e400", "is too large for a float")])
def test_run_scores_must_be_finite_ascii_numbers(tmp_path, score, problem):
    path = run_file(tmp_path, f"q1 Q0 d1 1 2.0 x\nq1 Q0 d2 2 {score} x\n")
    with pytest.raises(DataError, match=rf"run.trec:2: score {re.escape(repr(score))} {problem}"):
        Run.read_trec(path)


def test_run_scores_and_ranks_in_c_notation_are_read(tmp_path):
    path = run_file(tmp_path, "q1 Q0 a 1 -3.5E+2 x\nq1 Q0 b 2 .5 x\nq1 Q0 c +3 1e-400 x\nq1\tQ0\td\t4\t7.\tx\n")
    assert Run.read_trec(path).to_dict() == {"q1": {"d": 7.0, "b": 0.5, "c": 0.0, "a": -350.0}}


@pytest.mark.parametrize("rank", ["first", "1.5", "\u0661", "1_0"])
def test_a_rank_that_is_not_an_integer_is_an_error(tmp_path, rank):
    with pytest.raises(DataError, match=rf"run.trec:1: rank {re.escape(repr(rank))} is not an integer"):
        Run.read_trec(run_file(tmp_path, f"q1 Q0 d1 {rank} 1.0 x\n"))


def test_ids_with_nul_are_refused_by_every_reader(tmp_path):
    # trec_eval's C code cut "d\0a" and "d\0b" to "d": a run that retrieved only d\0b scored nDCG 1
    with pytest.raises(DataError, match=r"test.qrels:1: \"corpus-id\" .*got 'd\\x00a', which holds a NUL character"):
        read_qrels(qrels_file(tmp_path, "q1 0 d\x00a 1\n"))
    with pytest.raises(DataError, match=r"run.trec:2: \"docid\" .*got 'd\\x00b', which holds a NUL character"):
        Run.read_trec(run_file(tmp_path, "q1 Q0 d 1 2.0 x\nq1 Q0 d\x00b 2 1.0 x\n"))
    with pytest.raises(DataError, match=r"run.trec:1: \"qid\" .*got 'q\\x001', which holds a NUL character"):
        Run.read_trec(run_file(tmp_path, "q\x001 Q0 d 1 2.0 x\n"))
    corpus = ['{"_id": "d1", "text": "apples"}', '{"_id": "d\\u0000b", "text": "pears"}']
    with pytest.raises(DataError, match=r"corpus.jsonl:2: \"_id\" .*which holds a NUL character"):
        load_dataset(str(write_beir(tmp_path / "c", corpus=corpus)))
    queries = ['{"_id": "q1\\u0000", "text": "apple"}']
    with pytest.raises(DataError, match=r"queries.jsonl:1: \"_id\" .*which holds a NUL character"):
        load_dataset(str(write_beir(tmp_path / "q", queries=queries)))


def test_beir_qrels_follow_the_same_grammar_and_range(tmp_path):
    for grade, problem in (("1_0", "is not an integer"), ("5000", "is outside the grades")):
        base = write_beir(tmp_path / grade, qrels=f"query-id\tcorpus-id\tscore\nq1\td1\t{grade}\n")
        with pytest.raises(DataError, match=rf"test.tsv:2: score '{grade}' {problem}"):
            load_dataset(str(base))


def test_runs_and_judgments_built_in_python_are_checked_before_trec_eval():
    run = Run.from_dict({"q1": {"d\x00b": 1.0}})
    with pytest.raises(RagevalError, match=r"qrels: query 'q1': document id 'd\\x00a' holds a NUL character"):
        evaluate({"q1": {"d\x00a": 1}}, run, ["nDCG@10"])
    with pytest.raises(RagevalError, match=r"run: document id 'd\\x00b' holds a NUL character"):
        evaluate({"q1": {"d": 1}}, run, ["nDCG@10"])
    good = Run.from_dict({"q1": {"d": 1.0}})
    for grade in (10 ** 30, 4294967297, -1001):
        with pytest.raises(RagevalError, match=rf"grade {grade} is outside the grades rageval scores"):
            evaluate({"q1": {"d": grade}}, good, ["nDCG@10"])
    for grade in (True, 1.0, "1"):
        with pytest.raises(RagevalError, match=rf"grade {grade!r} is not an integer"):
            evaluate({"q1": {"d": grade}}, good, ["nDCG@10"])
    nan_run = Run(["q1"], ["d", "e"], np.array([[0, 1]]), np.array([[np.nan, 1.0]]))
    with pytest.raises(RagevalError, match=r"run: query 'q1': score nan of document 'd' is not a finite number"):
        evaluate({"q1": {"d": 1}}, nan_run, ["nDCG@10"])
    # numpy integers are grades like any other (pytrec_eval itself refuses them), whitespace in ids is fine here
    means = evaluate(Qrels({"q 1": {"d": np.int64(2)}}), Run.from_dict({"q 1": {"d": 1.0}}), ["nDCG@10"]).means
    assert means == {"nDCG@10": 1.0}


def test_every_pytrec_eval_measure_is_offered_or_refused_with_its_reason():
    assert {*PLAIN, *AT_DEPTH, *AT_FRACTION, *NOT_MEANS} == set(pytrec_eval.supported_measures)
    for name, reason in (("num_rel_ret", "a count that trec_eval sums"), ("gm_map", "a geometric mean"),
                         ("runid", "not a number")):
        with pytest.raises(SpecError, match=rf"trec_eval measure '{name}' is {reason}"):
            parse_measure(name)


QRELS = {"q1": {"a": 2, "b": 0, "c": 1, "e": 1}, "q2": {"d": 1, "f": 3}, "q3": {"g": 1}}
RUN = {"q1": {"b": 3.0, "a": 2.5, "x": 2.5, "c": 1.0, "y": 0.5, "z": 0.2}, "q2": {"d": 0.9, "q": 0.8, "f": 0.1},
       "q3": {"h": 5.0, "i": 4.0, "g": 4.0}}
NAMES = {"bpref": "bpref", "recip_rank": "recip_rank", "set_F": "set_F", "ndcg_cut_10": "ndcg_cut.10",
         "P_5": "P.5", "map": "map", "ndcg": "ndcg", "Rprec": "Rprec", "infAP": "infAP", "utility": "utility",
         "11pt_avg": "11pt_avg", "G": "G", "binG": "binG", "Rndcg": "Rndcg", "ndcg_rel": "ndcg_rel",
         "set_P": "set_P", "set_recall": "set_recall", "set_map": "set_map", "set_relative_P": "set_relative_P",
         "recall_3": "recall.3", "map_cut_2": "map_cut.2", "relative_P_2": "relative_P.2", "success_1": "success.1",
         "iprec_at_recall_0.50": "iprec_at_recall.0.50", "Rprec_mult_1.50": "Rprec_mult.1.50"}


def test_trec_eval_measures_by_name_equal_pytrec_evals_own_values():
    direct = pytrec_eval.RelevanceEvaluator(QRELS, set(NAMES.values())).evaluate(RUN)
    ours = evaluate(QRELS, Run.from_dict(RUN), list(NAMES))
    assert list(ours.means) == list(NAMES)
    for name in NAMES:
        assert ours.per_query[name] == {q: direct[q][name] for q in QRELS}, name
        assert ours.means[name] == pytest.approx(sum(direct[q][name] for q in QRELS) / 3)
    # by hand, ties by doc id descending: q1 ranks b, x, a, c (x and a tie at 2.5), its first relevant
    # document a 3rd; q2's d is 1st; q3 ranks h, i, g (i and g tie at 4.0), g 3rd
    assert ours.per_query["recip_rank"] == {"q1": 1 / 3, "q2": 1.0, "q3": 1 / 3}
    assert ours.per_query["P_5"] == {"q1": 2 / 5, "q2": 2 / 5, "q3": 1 / 5}
    assert ours.per_query["success_1"] == {"q1": 0.0, "q2": 1.0, "q3": 0.0}


def test_trec_eval_names_in_any_case_and_their_mistakes():
    assert [parse_measure(t).name for t in ("p_5", "NDCG_CUT_10", "iprec_at_recall_0.5", "Rprec_mult_1")] == \
        ["P_5", "ndcg_cut_10", "iprec_at_recall_0.50", "Rprec_mult_1.00"]
    assert parse_measure("trec_eval(measure=bpref)") == parse_measure("bpref")
    assert type(parse_measure("Rprec")).__name__ == "RPrecision"  # the built-in family keeps its name
    with pytest.raises(SpecError, match=r"metric 'nDCG' needs a cutoff"):
        parse_measure("nDCG")  # 'ndcg' alone is trec_eval's; nDCG is rageval's family without its cutoff
    with pytest.raises(SpecError, match=r"trec_eval measure 'recip_rank' takes no @k"):
        parse_measure("recip_rank@10")
    with pytest.raises(SpecError, match=r"'P_0': the depth must be from 1 to 10000"):
        parse_measure("P_0")
    with pytest.raises(SpecError, match=r"'iprec_at_recall_1.5': the parameter must be from 0.00 to 1.00"):
        parse_measure("iprec_at_recall_1.5")


def test_a_judged_query_without_results_scores_zero_with_trec_eval_measures():
    res = evaluate({"q1": {"a": 1}, "q2": {"b": 1}}, Run.from_dict({"q1": {"a": 1.0}}),
                   ["bpref", "iprec_at_recall_0.00", "11pt_avg"])
    assert res.per_query == {"bpref": {"q1": 1.0, "q2": 0.0}, "iprec_at_recall_0.00": {"q1": 1.0, "q2": 0.0},
                             "11pt_avg": {"q1": 1.0, "q2": 0.0}}
    assert res.n_without_results == 1


@pytest.mark.parametrize("score", ["1e", "1e+", "2.5E-", ".", ".e1", "e5", "+"])
def test_a_score_whose_exponent_or_mantissa_lacks_digits_is_an_error(tmp_path, score):
    # Python's float() cannot read these either: each must be a DataError naming the line, never a crash
    path = run_file(tmp_path, f"q1 Q0 d1 1 2.0 x\nq1 Q0 d2 2 {score} x\n")
    with pytest.raises(DataError, match=rf"run.trec:2: score {re.escape(repr(score))} is not a number"):
        Run.read_trec(path)


def test_only_the_first_line_of_a_qrels_file_can_be_a_header(tmp_path):
    path = qrels_file(tmp_path, "q1\td1\t1\nquery-id\tcorpus-id\tscore\n")
    with pytest.raises(DataError, match=r"test.qrels:2: score 'score' is not an integer"):
        read_qrels(path)
    path = qrels_file(tmp_path, "q1 0 d1 1\nq1 0 d2 rel\n")
    with pytest.raises(DataError, match=r"test.qrels:2: score 'rel' is not an integer"):
        read_qrels(path)


@pytest.mark.parametrize("line", ["q1 0 d2 1 extra", "q1\t0\td2\t1\tx", "q1 0 d2 1 0 0", "q1 d2", "q1"])
def test_a_qrels_line_of_another_width_is_an_error(tmp_path, line):
    path = qrels_file(tmp_path, f"q1 0 d1 1\n{line}\n")
    with pytest.raises(DataError, match=rf"test.qrels:2: expected 3 columns query-id, corpus-id, score; got "
                                        rf"{re.escape(repr(line))}"):
        read_qrels(path)


def test_tied_scores_rank_by_doc_id_descending(tmp_path):
    # trec_eval's own order for ties: the larger doc id first, whatever order the lists came in
    run = Run.from_dict({"q1": {"a": 1.0, "c": 1.0, "b": 2.0, "d": 1.0}})
    assert next(run.results())[1:] == (["b", "d", "c", "a"], [2.0, 1.0, 1.0, 1.0])
    path = run_file(tmp_path, "q1 Q0 a 1 1.0 x\nq1 Q0 c 2 1.0 x\nq1 Q0 b 3 2.0 x\nq1 Q0 d 4 1.0 x\n")
    assert next(Run.read_trec(path).results())[1] == ["b", "d", "c", "a"]
