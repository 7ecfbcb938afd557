"""What rageval writes and removes: atomic writes under temporary names only rageval makes, the
clean-up of what an interrupted run left (never a user's file), no writing through a symbolic link
under --out, and output paths a user names checked before any work, with nothing created above them."""
from __future__ import annotations

import hashlib
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_beir
from rageval import benchmark
from rageval.cli import main
from rageval.errors import RagevalError
from rageval.store.files import atomic_folder, atomic_open, remove_stale
from rageval.store.run_folder import pair_folder, slug

# The documented temporary name: .NAME.rageval-<8 hex of sha256(host name)>-<pid>-<12 hex>.part
HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def temporary(name: str, pid: int, random: str = "0123456789ab", host: str = HOST) -> str:
    return f".{name}.rageval-{host}-{pid}-{random}.part"


@pytest.fixture(scope="module")
def dead_pid() -> int:
    """The id of a process that has ended."""
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)


@pytest.fixture
def live_pid():
    """The id of another process that is running."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """An output folder with one finished pair (bm25 on a 3-document BEIR folder)."""
    root = tmp_path_factory.mktemp("finished")
    [outcome] = benchmark(str(write_beir(root / "beir")), ["bm25"], ["nDCG@10"], out=root / "out")
    assert outcome.error is None
    return root / "out"


def test_atomic_open_writes_under_the_documented_temporary_name(tmp_path):
    with atomic_open(tmp_path / "x.json") as f:
        [tmp] = [p.name for p in tmp_path.iterdir()]
        f.write("{}")
    assert re.fullmatch(rf"\.x\.json\.rageval-{HOST}-{os.getpid()}-[0-9a-f]{{12}}\.part", tmp)
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_an_interrupted_write_leaves_no_file(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_open(tmp_path / "x.json") as f:
            f.write("partial")
            raise RuntimeError("killed")
    assert not list(tmp_path.iterdir())


def test_atomic_writes_create_no_folder(tmp_path):
    with pytest.raises(RagevalError, match=r"cannot write .*missing/x\.json: No such file or directory"):
        with atomic_open(tmp_path / "missing" / "x.json") as f:
            f.write("never")
    with pytest.raises(RagevalError, match=r"cannot write .*missing/KEY: No such file or directory"):
        with atomic_folder(tmp_path / "missing" / "KEY"):
            pass
    assert not list(tmp_path.iterdir())


def test_replacing_a_folder_is_an_error_naming_it_and_leaves_nothing(tmp_path):
    (tmp_path / "x.json").mkdir()
    with pytest.raises(RagevalError, match=r"cannot write .*x\.json: Is a directory"):
        with atomic_open(tmp_path / "x.json") as f:
            f.write("{}")
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"] and (tmp_path / "x.json").is_dir()


def test_a_concurrent_writer_finishing_a_cache_entry_first_is_success(tmp_path):
    target = tmp_path / "indexes" / "KEY"
    target.parent.mkdir()
    with atomic_folder(target, keep_existing=True) as mine:
        assert re.fullmatch(rf"\.KEY\.rageval-{HOST}-{os.getpid()}-[0-9a-f]{{12}}\.part", mine.name)
        (mine / "complete").write_text("mine")
        with atomic_folder(target, keep_existing=True) as theirs:  # another process, faster
            (theirs / "complete").write_text("theirs")
    assert (target / "complete").read_text() == "theirs"
    assert [p.name for p in target.parent.iterdir()] == ["KEY"]  # no temporary folder left


def test_remove_stale_removes_only_rageval_names_of_gone_processes_of_this_host(tmp_path, dead_pid, live_pid):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("a user's file")
    folder = tmp_path / "f"
    folder.mkdir()
    stale = [folder / temporary("run.trec", dead_pid), folder / temporary("KEY", dead_pid, "abcdef012345")]
    stale[0].write_text("half")
    stale[1].mkdir()
    (stale[1] / "index").write_text("half")
    link = folder / temporary("link", dead_pid)
    link.symlink_to(outside)  # removed as a link; what it points to is not touched
    kept = [temporary("run.json", live_pid), temporary("run.json", os.getpid()),  # live writers
            temporary("x", dead_pid, host="0badc0de"),  # another machine's writer, sharing the folder
            f".run.trec.{dead_pid}.abcd1234.part", f".notes.{dead_pid}.txt", f".coverage.host.{dead_pid}.1",
            temporary("x", dead_pid, "0123456789AB"), temporary("x", dead_pid, "0123456789a"),
            temporary("", dead_pid), temporary("x", dead_pid)[1:], temporary("x", dead_pid) + ".bak",
            f".x.rageval-{HOST}-{dead_pid}-0123456789ab.tmp", f".x.rageval-{HOST}-0{dead_pid}-0123456789ab.part"]
    for name in kept:
        (folder / name).write_text("not ours to remove")
    deeper = folder / "sub" / temporary("y", dead_pid)
    deeper.parent.mkdir()
    deeper.write_text("half")
    assert remove_stale(folder) == 3
    assert not any(p.exists() or p.is_symlink() for p in [*stale, link])
    assert sorted(p.name for p in folder.iterdir()) == sorted([*kept, "sub"])
    assert (outside / "keep").read_text() == "a user's file" and deeper.exists()  # depth 0: not below
    assert remove_stale(folder, depth=1) == 1 and not deeper.exists()


def test_a_run_removes_its_own_stale_files_and_never_a_users(tmp_path, dead_pid, live_pid, monkeypatch, caplog):
    """The tester's reproduction: three user files shaped like the old temporary names survive; rageval's
    own temporary files of a gone process go, from --out's own folders and the cache only."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("RAGEVAL_CACHE", str(cache))
    base = write_beir(tmp_path / "BASE")
    out = tmp_path / "o"
    users = [out / "p" / ".backup.20240101.d" / "f", out / ".notes.2023.txt", out / "p" / ".coverage.host.54321.1"]
    for path in users:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("user data")
    pair = pair_folder(out, "BASE.test", "bm25")
    pair.mkdir(parents=True)
    (cache / "indexes").mkdir(parents=True)
    (cache / "models" / "astgnn").mkdir(parents=True)
    ours = [out / temporary("results.json", dead_pid), pair.parent / temporary("queries.jsonl", dead_pid),
            pair / temporary("run.trec", dead_pid), cache / "indexes" / temporary("KEY", dead_pid),
            cache / "models" / "astgnn" / temporary("m.pt", dead_pid)]
    for path in ours:
        path.write_text("half")
    kept = [out / "p" / temporary("f", dead_pid),  # rageval's shape, but in a folder rageval does not own
            pair / temporary("run.json", live_pid)]  # a live writer's
    for path in kept:
        path.write_text("not removable")
    caplog.set_level("INFO", logger="rageval")
    assert main(["run", "--dataset", f"beir:{base}", "--retriever", "bm25", "--metric", "nDCG@10",
                 "--out", str(out), "-v"]) == 0
    assert all(p.read_text() == "user data" for p in users)
    assert not any(p.exists() for p in ours)
    assert all(p.read_text() == "not removable" for p in kept)
    assert f"removed 3 temporary files left by interrupted runs under {out}" in caplog.text
    assert f"removed 2 temporary files left by interrupted runs under {cache}" in caplog.text
    assert (pair / "metrics.json").is_file()


@pytest.mark.parametrize("linked", ["dataset", "pair"])
def test_a_symbolic_link_under_out_is_refused_before_any_work(tmp_path, capsys, linked):
    base = write_beir(tmp_path / "BASE")
    out, elsewhere = tmp_path / "o", tmp_path / "elsewhere"
    elsewhere.mkdir()
    pair = pair_folder(out, "BASE.test", "bm25")
    link = pair.parent if linked == "dataset" else pair
    link.parent.mkdir(parents=True)
    link.symlink_to(elsewhere, target_is_directory=True)
    assert main(["run", "--dataset", f"beir:{base}", "--retriever", "bm25", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert f"rageval: error: {link} is a symbolic link (to {elsewhere})" in captured.err
    assert captured.out == "" and not list(elsewhere.iterdir())
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == sorted(p.relative_to(out) for p in [
        *([] if linked == "dataset" else [pair.parent]), link])  # nothing written, not even results.json


def test_evaluate_never_writes_through_a_symbolic_link(finished, tmp_path, capsys):
    run_file = next(finished.glob("*/*/run.trec"))
    qrels = tmp_path / "q.tsv"
    qrels.write_text("q1\t0\td1\t2\nq1\t0\td2\t1\nq2\t0\td3\t1\n")
    out, elsewhere = tmp_path / "o", tmp_path / "elsewhere"
    (out / slug("q")).mkdir(parents=True)
    elsewhere.mkdir()
    link = pair_folder(out, "q", "sys")
    link.symlink_to(elsewhere, target_is_directory=True)
    assert main(["evaluate", "--run", str(run_file), "--qrels", str(qrels), "--name", "sys", "--out", str(out)]) == 2
    assert f"{link} is a symbolic link" in capsys.readouterr().err and not list(elsewhere.iterdir())


def _cases(finished: Path, root: Path) -> dict[str, tuple[list[str], str]]:
    """Command lines naming a bad target, and the message each must give."""
    beir = str(write_beir(root / "beir"))
    testset = root / "t.jsonl"
    testset.write_text("")
    folder = root / "a-folder"
    folder.mkdir()
    (root / "a-file").write_text("a user's file")
    os.mkfifo(root / "a-fifo")  # not a device such as /dev/null: a root run of a broken version would replace it
    missing = root / "missing"
    out = str(finished)
    return {
        "compare --json in a missing folder": (["compare", out, "--json", f"{missing}/x.json"],
                                               f"--json {missing}/x.json: no such folder {missing}"),
        "report --html in a missing folder": (["report", out, "--html", f"{missing}/r.html"],
                                              f"--html {missing}/r.html: no such folder {missing}"),
        "export --file in a missing folder": (["export", out, "--file", f"{missing}/r.csv"],
                                              f"--file {missing}/r.csv: no such folder {missing}"),
        "ifrag build --out in a missing folder": (["ifrag", "build", "--dataset", beir, "--out", f"{missing}/t.jsonl"],
                                                  f"--out {missing}/t.jsonl: no such folder {missing}"),
        "ifrag score --out in a missing folder": (["ifrag", "score", "--testset", str(testset), "--responses",
                                                   str(testset), "--out", f"{missing}/s.json"],
                                                  f"--out {missing}/s.json: no such folder {missing}"),
        "run --out two levels down": (["run", "--dataset", beir, "--retriever", "bm25", "--out", f"{missing}/o"],
                                      f"--out {missing}/o: no such folder {missing}"),
        "evaluate --out two levels down": (["evaluate", "--run", str(next(finished.glob("*/*/run.trec"))),
                                            "--qrels", f"{beir}/qrels/test.tsv", "--out", f"{missing}/o"],
                                           f"--out {missing}/o: no such folder {missing}"),
        "compare --json a folder": (["compare", out, "--json", str(folder)], f"--json {folder} is a folder"),
        "report --html a folder": (["report", out, "--html", str(folder)], f"--html {folder} is a folder"),
        "export --file a folder": (["export", out, "--file", str(folder)], f"--file {folder} is a folder"),
        "ifrag build --out a folder": (["ifrag", "build", "--dataset", beir, "--out", str(folder)],
                                       f"--out {folder} is a folder"),
        "run --out empty": (["run", "--dataset", beir, "--retriever", "bm25", "--out", ""], "--out is empty"),
        "evaluate --out empty": (["evaluate", "--run", str(next(finished.glob("*/*/run.trec"))), "--qrels",
                                  f"{beir}/qrels/test.tsv", "--out", ""], "--out is empty"),
        "compare --json empty": (["compare", out, "--json", ""], "--json is empty"),
        "run --out in /proc": (["run", "--dataset", beir, "--retriever", "bm25", "--out", "/proc/rageval-x"],
                               "--out /proc/rageval-x: cannot write in /proc"),
        "evaluate --out a file": (["evaluate", "--run", str(next(finished.glob("*/*/run.trec"))), "--qrels",
                                   f"{beir}/qrels/test.tsv", "--out", str(root / "a-file")],
                                  f"--out {root / 'a-file'} is a file, not a folder"),
        "compare --json a fifo": (["compare", out, "--json", str(root / "a-fifo")],
                                  f"--json {root / 'a-fifo'} exists and is not a regular file"),
    }


CASES = ["compare --json in a missing folder", "report --html in a missing folder",
         "export --file in a missing folder", "ifrag build --out in a missing folder",
         "ifrag score --out in a missing folder", "run --out two levels down", "evaluate --out two levels down",
         "compare --json a folder", "report --html a folder", "export --file a folder", "ifrag build --out a folder",
         "run --out empty", "evaluate --out empty", "compare --json empty", "run --out in /proc",
         "evaluate --out a file", "compare --json a fifo"]


@pytest.mark.parametrize("case", CASES)
def test_a_bad_output_target_is_an_error_before_any_work_and_nothing_is_made(finished, tmp_path, monkeypatch,
                                                                             capsys, case):
    cases = _cases(finished, tmp_path)
    assert sorted(cases) == sorted(CASES)
    argv, message = cases[case]
    monkeypatch.chdir(tmp_path)
    before = {p: p.stat().st_mtime_ns for p in [*tmp_path.rglob("*"), *finished.rglob("*")]}
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert f"rageval: error: {message}" in captured.err
    assert captured.out == ""  # checked first: nothing scored or printed
    assert {p: p.stat().st_mtime_ns for p in [*tmp_path.rglob("*"), *finished.rglob("*")]} == before
    assert not Path("/proc/rageval-x").exists()



@pytest.mark.parametrize("option", ["compare --json", "report --html", "export --file"])
@pytest.mark.parametrize("kind", ["link to a file", "link to nothing", "loop"])
def test_an_output_file_that_is_a_symbolic_link_is_refused_and_kept(finished, tmp_path, capsys, option, kind):
    command, flag = option.split()
    target, link = tmp_path / "target.json", tmp_path / "jl"
    if kind == "link to a file":
        target.write_text("the user's file")
        link.symlink_to(target)
        what = f"a symbolic link (to {target})"
    elif kind == "link to nothing":
        link.symlink_to(target)
        what = f"a symbolic link to nothing ({target} does not exist)"
    else:
        (tmp_path / "other").symlink_to(link)
        link.symlink_to(tmp_path / "other")
        what = f"a symbolic link loop (to {tmp_path / 'other'})"
    assert main([command, str(finished), flag, str(link)]) == 2
    assert f"rageval: error: {flag} {link} is {what}" in capsys.readouterr().err
    assert link.is_symlink() and (kind != "link to a file" or target.read_text() == "the user's file")


def test_an_output_folder_that_is_a_symbolic_link_loop_is_named_a_loop(tmp_path, capsys):
    base = write_beir(tmp_path / "BASE")
    (tmp_path / "l1").symlink_to(tmp_path / "l2")
    (tmp_path / "l2").symlink_to(tmp_path / "l1")
    assert main(["run", "--dataset", f"beir:{base}", "--retriever", "bm25", "--out", str(tmp_path / "l1")]) == 2
    assert f"--out {tmp_path / 'l1'} is a symbolic link loop (to {tmp_path / 'l2'})" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["compare", "report", "export"])
def test_reading_an_output_folder_that_is_not_one_says_what_it_is(tmp_path, monkeypatch, capsys, command):
    (tmp_path / "afile").write_text("x")
    os.mkfifo(tmp_path / "ofifo")
    (tmp_path / "lp1").symlink_to(tmp_path / "lp2")
    (tmp_path / "lp2").symlink_to(tmp_path / "lp1")
    cases = {"afile": "is a file, not an output folder", "ofifo": "is a FIFO (named pipe), not an output folder",
             "lp1": f"is a symbolic link loop (to {tmp_path / 'lp2'}), not an output folder",
             "missing": ": no such output folder"}
    for name, message in cases.items():
        assert main([command, str(tmp_path / name)]) == 2
        assert f"rageval: error: {tmp_path / name}{'' if message[0] == ':' else ' '}{message}" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)  # '' is not the current folder
    assert main([command, ""]) == 2
    assert "rageval: error: the output folder is empty" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "lp1", "lp2", "ofifo"]


def test_a_full_disk_names_the_file_and_the_other_pairs_go_on(shared, tmp_path, monkeypatch):
    import rageval.store.files

    real = rageval.store.files.os.fsync
    calls = {"n": 0}

    def full(fd):
        calls["n"] += 1
        if calls["n"] == 1:  # the first file written: bm25's run.trec
            raise OSError(28, "No space left on device")
        return real(fd)

    monkeypatch.setattr(rageval.store.files.os, "fsync", full)
    first, second = benchmark(str(shared / "adi"), ["bm25", "bm25:k1=0.9"], ["nDCG@10"], out=tmp_path)
    assert first.error.startswith("cannot write ") and "run.trec: No space left on device" in first.error
    assert second.error is None
    assert not list(tmp_path.rglob("*.part"))


def test_remove_stale_never_follows_a_symbolic_link_to_a_folder(tmp_path, dead_pid):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    theirs = elsewhere / temporary("run.trec", dead_pid)  # rageval's shape, but outside the folder cleaned
    theirs.write_text("half")
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "sub").symlink_to(elsewhere, target_is_directory=True)
    assert remove_stale(folder, depth=2) == 0
    assert theirs.read_text() == "half" and (folder / "sub").is_symlink()


def test_a_command_that_fails_its_checks_creates_no_output_folder(tmp_path, capsys):
    out = tmp_path / "new"
    assert main(["run", "--dataset", f"beir:{tmp_path / 'missing'}", "--retriever", "bm25", "--out", str(out)]) == 2
    assert f"rageval: error: {tmp_path / 'missing'}: no such folder" in capsys.readouterr().err
    assert main(["evaluate", "--run", str(tmp_path / "r.trec"), "--qrels", str(tmp_path / "q.tsv"),
                 "--out", str(out)]) == 2
    assert f"rageval: error: {tmp_path / 'q.tsv'}: file not found" in capsys.readouterr().err
    assert sorted(tmp_path.iterdir()) == []
