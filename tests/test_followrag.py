"""FollowRAG's published layout (a synthetic file written here, in the released files' shape):
read as it is, written back, scored with FollowRAG's own table, and its bad inputs."""
from __future__ import annotations

import json
import re

import pytest

from rageval import registry
from rageval.cli import main
from rageval.errors import DataError
from rageval.ifrag import read_testset, score, write_testset
from rageval.ifrag.followrag_table import rate, table
from rageval.ifrag.scoring import read_responses

PASSAGES = "[{'title': 'Eiffel Tower', 'content': 'The Eiffel Tower stands in Paris.'}, " \
           "{'title': 'Louvre', 'content': \"The Louvre's glass pyramid.\"}]"


def published_item(key: int, type_: str, ids: str, kwargs: str, question: str = "Where is the Eiffel Tower?",
                   answer: str = "Paris") -> dict:
    return {"key": key, "type": type_, "prompt": f"Passages...\nQuestion: {question}", "question": question,
            "answer_gold": answer, "question_with_instrs": f"{question} ...", "instruction_id_list": ids,
            "kwargs": kwargs, "passages": PASSAGES}


ITEMS = [
    published_item(0, "ifnq", "['format_repeat_question', 'structure_title']",
                   "[{'prompt_to_repeat': 'Where is the Eiffel Tower?'}, {}]"),
    published_item(1, "ifnq", "['keywords_frequency']",
                   "[{'relation': 'at least', 'keyword': 'tower', 'frequency': 2}]", "Who built it?", "Gustave Eiffel"),
    published_item(2, "iftq", "['format_no_commas', 'position_end_with']",
                   "[{}, {'end_phrase': 'Any other questions?'}]", "Which city?", "Paris/City of Light"),
]


@pytest.fixture
def published(tmp_path):
    path = tmp_path / "followRAG_test.json"
    path.write_text(json.dumps(ITEMS, indent=2))
    return path


def test_reads_the_published_layout_unchanged(published):
    items = read_testset(published)
    assert [i.key for i in items] == [0, 1, 2]
    assert [i.id for i in items[0].instructions] == ["combination:repeat_prompt", "detectable_format:title"]
    assert items[1].instructions[0].kwargs == {"relation": "at least", "keyword": "tower", "frequency": 2}
    assert items[0].passages[1] == {"title": "Louvre", "text": "The Louvre's glass pyramid."}
    assert items[2].answer_gold == ["Paris/City of Light"] and items[2].extra["type"] == "iftq"


def test_writes_the_published_layout(published, tmp_path):
    items = read_testset(published)
    again = tmp_path / "again.json"
    write_testset(again, items, "followrag")
    written = json.loads(again.read_text())
    for original, copy in zip(ITEMS, written):
        for field in ("key", "type", "prompt", "question", "answer_gold"):
            assert copy[field] == original[field]
        assert eval_literal(copy["instruction_id_list"]) == eval_literal(original["instruction_id_list"])
        assert eval_literal(copy["kwargs"]) == eval_literal(original["kwargs"])
        assert eval_literal(copy["passages"]) == eval_literal(original["passages"])
        assert isinstance(copy["instruction_id_list"], str) and isinstance(copy["kwargs"], str)
    assert [i.key for i in read_testset(again)] == [0, 1, 2]


def eval_literal(text: str):
    import ast

    return ast.literal_eval(text)


RESPONSES = {
    # follows both: starts with the question, has a title
    "0": "Where is the Eiffel Tower? <<Answer>> It is in Paris.",
    # "tower" once only (strict and loose fail)
    "1": "Gustave Eiffel built the tower.",
    # no comma, but the end phrase is followed by a last line: strict fails, loose passes
    "2": "It is Paris. Any other questions?\nBye",
}


@pytest.mark.parametrize("layout", ["key", "id", "prompt", "array"])
def test_responses_by_key_id_prompt_or_array(published, tmp_path, layout):
    items = read_testset(published)
    path = tmp_path / "r.jsonl"
    rows = [{("key" if layout in ("key", "array") else "id"): int(k), "response": r} for k, r in RESPONSES.items()]
    if layout == "prompt":
        rows = [{"prompt": item.prompt, "response": RESPONSES[str(item.key)]} for item in items]
    path.write_text(json.dumps(rows) if layout == "array" else "".join(json.dumps(r) + "\n" for r in rows))
    assert read_responses(path, items) == RESPONSES


def test_followrag_table_by_hand(published, chat_server):
    items = read_testset(published)
    results = score(items, RESPONSES)
    # loose verdicts: item 0 [T, T], item 1 [F], item 2 [T, T] -> 4 of 5; ifnq 2 of 3; iftq 2 of 2
    replies = {"Where is": ["Rating: [1]\nReason: [right]"], "Who built": ["I think it is fine", "Rating: [0.5]"],
               "Which city": ["no rating"] * 10}
    seen: dict[str, int] = {}

    def reply(prompt: str) -> str:
        question = next(q for q in replies if q in prompt)
        seen[question] = seen.get(question, 0) + 1
        answers = replies[question]
        return answers[min(seen[question], len(answers)) - 1]

    chat_server.reply = reply
    ratings = rate(registry.create("generators", chat_server.spec()), items, RESPONSES)
    assert [r["rating"] for r in ratings] == [1.0, 0.5, 0.0]
    assert [r["tries"] for r in ratings] == [1, 2, 10] and ratings[2]["unrated"]  # asked again up to 10 times
    rows = table(results["per_item"], ratings)
    assert rows["all"] == {"n_items": 3, "IF": 80.0, "RAG": 50.0, "Avg": 65.0}
    assert rows["ifnq"] == {"n_items": 2, "IF": round(200 / 3, 2), "RAG": 75.0, "Avg": round((66.67 + 75.0) / 2, 2)}
    assert rows["iftq"] == {"n_items": 1, "IF": 100.0, "RAG": 0.0, "Avg": 50.0}
    assert table(results["per_item"], None)["all"] == {"n_items": 3, "IF": 80.0, "RAG": None, "Avg": None}


def test_cli_protocol_followrag(published, tmp_path, capsys, chat_server):
    responses = tmp_path / "r.jsonl"
    responses.write_text("".join(json.dumps({"key": int(k), "response": r}) + "\n" for k, r in RESPONSES.items()))
    out = tmp_path / "s.json"
    base = ["ifrag", "score", "--testset", str(published), "--responses", str(responses), "--protocol", "followrag"]
    assert main([*base, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "RAG and Avg need --judge SPEC" in printed and "80.00" in printed
    saved = json.loads(out.read_text())
    assert saved["semantics"] == "ifeval" and saved["followrag"]["all"]["IF"] == 80.0
    chat_server.reply = lambda prompt: "Rating: [1]\nReason: [ok]"
    assert main([*base, "--judge", chat_server.spec(), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["followrag"]["all"] == {"n_items": 3, "IF": 80.0, "RAG": 100.0, "Avg": 90.0}
    prompt = tmp_path / "judge.txt"
    prompt.write_text("Q {question} A {answer_gold}")
    assert main([*base, "--judge", chat_server.spec(), "--judge-prompt", str(prompt), "--out", str(out)]) == 2
    assert "judge.txt: the judge prompt lacks {response}" in capsys.readouterr().err


def test_cli_semantics_recorded_and_checked(published, tmp_path, capsys):
    responses = tmp_path / "r.jsonl"
    responses.write_text("".join(json.dumps({"key": int(k), "response": r}) + "\n" for k, r in RESPONSES.items()))
    out = tmp_path / "s.json"
    base = ["ifrag", "score", "--testset", str(published), "--responses", str(responses), "--out", str(out)]
    assert main([*base, "--semantics", "rageval"]) == 0
    assert json.loads(out.read_text())["semantics"] == "rageval"
    with pytest.raises(SystemExit) as exit_info:
        main([*base, "--semantics", "strict"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'strict' (choose from ifeval, rageval)" in capsys.readouterr().err.replace("'ifeval'", "ifeval").replace("'rageval'", "rageval")
    assert main(["ifrag", "score", "--testset", str(published), "--responses", str(responses),
                 "--out", str(published)]) == 2
    assert "is the test set itself" in capsys.readouterr().err
    assert json.loads(published.read_text()) == ITEMS  # untouched


@pytest.mark.parametrize("change, message", [
    ({"kwargs": "[{'prompt_to_repeat': 'x'}, {}"}, r"item key=0: field 'kwargs' is not a Python literal"),
    ({"kwargs": "[__import__('os').system('true'), {}]"}, r"item key=0: field 'kwargs' is not a Python literal"),
    ({"instruction_id_list": "['format_repeat_question', 'structure_poem']"},
     r"item key=0: unknown instruction id 'structure_poem'"),
    ({"instruction_id_list": "'format_repeat_question'"}, r"item key=0: field 'instruction_id_list' must be a list"),
    ({"kwargs": "[{'prompt_to_repeat': 3}, {}]"},
     r"item key=0: instruction combination:repeat_prompt: field 'prompt_to_repeat' must be a non-empty string, got 3"),
    ({"kwargs": "[{}]"}, r"item key=0: field 'kwargs' must be a list of 2 dicts"),
    ({"passages": "[{'title': 'x'}]"}, r"item key=0: field 'passages' must be a list of \{'title', 'content'\} dicts"),
    ({"question": None}, r"item key=0: field 'question' must be a string"),
])
def test_bad_published_files(tmp_path, change, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{**ITEMS[0], **change}, ITEMS[1]]))
    with pytest.raises(DataError, match=r"bad.json: " + message):
        read_testset(path)


def test_bad_published_file_shapes(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([ITEMS[0], ITEMS[0]]))
    with pytest.raises(DataError, match=r"bad.json: item key=0: duplicate key \(first at element 0\)"):
        read_testset(path)
    path.write_text('[{"key": 1,')
    with pytest.raises(DataError, match=r"bad.json:1: not JSON"):
        read_testset(path)
    path.write_text("[" * 100_000)
    with pytest.raises(DataError, match=r"bad.json"):
        read_testset(path)


def test_cli_sample_scores_a_seeded_subset(published, tmp_path):
    responses = tmp_path / "r.jsonl"
    responses.write_text("".join(json.dumps({"key": int(k), "response": r}) + "\n" for k, r in RESPONSES.items()))
    outs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.json"
        assert main(["ifrag", "score", "--testset", str(published), "--responses", str(responses),
                     "--sample", "2", "--seed", "5", "--out", str(out)]) == 0
        outs.append(json.loads(out.read_text()))
    assert outs[0]["n_items"] == 2 and outs[0]["sample"] == {"n": 2, "seed": 5}
    assert [r["key"] for r in outs[0]["per_item"]] == [r["key"] for r in outs[1]["per_item"]]


@pytest.mark.parametrize("indent", [2, None])
def test_files_with_a_utf8_byte_order_mark(tmp_path, indent):
    """Windows editors write a byte order mark first: every file is read as it is without one."""
    from rageval.ifrag.followrag_table import RATING_PROMPT, read_prompt

    bom = "\ufeff"
    testset = tmp_path / "followRAG_test.json"
    testset.write_text(bom + json.dumps(ITEMS, indent=indent), encoding="utf-8")
    items = read_testset(testset)
    assert [i.key for i in items] == [0, 1, 2] and items[2].extra["type"] == "iftq"
    rows = [{"key": int(k), "response": r} for k, r in RESPONSES.items()]
    array, lines = tmp_path / "r.json", tmp_path / "r.jsonl"
    array.write_text(bom + json.dumps(rows, indent=indent), encoding="utf-8")
    lines.write_text(bom + "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert read_responses(array, items) == RESPONSES and read_responses(lines, items) == RESPONSES
    prompt = tmp_path / "judge.txt"
    prompt.write_text(bom + RATING_PROMPT, encoding="utf-8")
    assert read_prompt(prompt) == RATING_PROMPT
    out = tmp_path / "s.json"
    assert main(["ifrag", "score", "--testset", str(testset), "--responses", str(array), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["instruction_level"]["loose"] == 0.8  # 4 of 5, as by hand above


@pytest.mark.parametrize("name, data, message", [
    ("ts.jsonl", "\ufeff" + json.dumps(ITEMS[0]) + "\n[1, 2]\n",
     r"ts.jsonl:2: expected a JSON object, got an array: '\[1, 2\]'"),
    ("ts.jsonl", '"a string"\n', r"ts.jsonl:1: expected a JSON object, got a string: '\"a string\"'"),
    ("ts.json", '\ufeff["an item"]', r"ts.json: element 0 of the array is a string, not an object"),
    ("ts.json", b'\xef\xbb\xbf[\n{"key": "\xe9"}]', r"ts.json:2: not UTF-8: byte 0xe9 at column 10"),
])
def test_testset_shape_errors_say_what_was_found(tmp_path, capsys, name, data, message):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    assert main(["ifrag", "score", "--testset", str(path), "--responses", str(tmp_path / "r.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rageval: error: ") and re.search(message, err), err


def test_response_array_errors_say_what_was_found(published, tmp_path, capsys):
    responses = tmp_path / "r.json"
    responses.write_text('\ufeff[{"key": 0, "response": "x"}, 7]', encoding="utf-8")
    assert main(["ifrag", "score", "--testset", str(published), "--responses", str(responses)]) == 2
    assert "r.json: a JSON file of responses must be an array of objects; element 2 is a number" in \
        capsys.readouterr().err
