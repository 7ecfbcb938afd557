"""Using the command line and the package as a newcomer would: misspelt options and commands get a
suggestion, and a Python session started in the folder above the clone says why ``import rageval``
found the wrong thing."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rageval.cli import main


def usage_error(capsys, argv: list[str]) -> str:
    """stderr of a command line that argparse rejects (exit status 2)."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_a_misspelt_option_of_a_command_is_reported_by_that_command(capsys):
    err = usage_error(capsys, ["run", "--datset", "x"])
    assert err.startswith("usage: rageval run ")  # the command's usage, not rageval's
    assert "rageval run: error: unrecognized arguments: --datset x (did you mean --dataset?)" in err
    err = usage_error(capsys, ["ifrag", "build", "--datset", "x", "--out", "y"])
    assert "rageval ifrag build: error: the following arguments are required: --dataset (did you mean --dataset?)" \
        in err
    err = usage_error(capsys, ["list", "--verbse"])
    assert "rageval list: error: unrecognized arguments: --verbse (did you mean --verbose?)" in err


def test_an_option_before_the_command_names_the_commands_that_take_it(capsys):
    err = usage_error(capsys, ["--datset", "x", "run"])
    assert "did you mean --dataset? it is an option of rageval run, rageval ifrag build, rageval compare, " \
           "rageval synth: give it after the command" in err
    err = usage_error(capsys, ["-v", "list"])
    assert "rageval: error: unrecognized arguments: -v (-v is an option of rageval run, rageval list, " \
           "rageval synth: give it after the command)" in err


def test_a_misspelt_command_or_choice_suggests_the_closest(capsys):
    assert "invalid choice: 'rnu'" in (err := usage_error(capsys, ["rnu"])) and "(did you mean 'run'?)" in err
    err = usage_error(capsys, ["ifrag", "buld"])
    assert err.startswith("usage: rageval ifrag ") and "(did you mean 'build'?)" in err
    err = usage_error(capsys, ["ifrag", "score", "--testset", "t", "--responses", "r", "--semantics", "ifevl"])
    assert "(did you mean 'ifeval'?)" in err


def test_no_suggestion_where_nothing_is_close_or_the_option_is_known(capsys):
    err = usage_error(capsys, ["run", "--zzzzzz"])
    assert err.rstrip().endswith("rageval run: error: unrecognized arguments: --zzzzzz")
    err = usage_error(capsys, ["run", "--data"])  # argparse's abbreviation of --dataset: no hint for it
    assert err.rstrip().endswith("rageval run: error: argument --dataset: expected one argument")
    err = usage_error(capsys, ["xyzzy"])
    assert "did you mean" not in err


def test_a_fresh_process_suggests_too():
    done = subprocess.run([sys.executable, "-m", "rageval.cli", "run", "--datset", "x"], capture_output=True, text=True)
    assert done.returncode == 2 and "did you mean --dataset?" in done.stderr and done.stdout == ""


def test_import_from_the_folder_holding_the_clone_gets_the_installed_package(tmp_path):
    """The README's snippet run from the clone's parent folder, where the clone (named ``rageval``) comes
    first on sys.path: the installed package (here the editable install), not an empty namespace package."""
    root = Path(__file__).resolve().parent.parent
    (tmp_path / "rageval").symlink_to(root, target_is_directory=True)
    code = "import rageval, rageval.cli; print(rageval.__file__); print(rageval.load_dataset.__module__)"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(root / "rageval" / "__init__.py"), "rageval.data.loading"]
    # without any installed rageval (-S: no site-packages), the error says what was found
    done = subprocess.run([sys.executable, "-S", "-c", "import rageval"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"ImportError: 'import rageval' found the folder of rageval's source checkout, {tmp_path / 'rageval'}, "
        "and no installed rageval: install it (pip install -e <that folder>), or run Python inside the checkout")


def test_a_reader_that_stops_early_gets_no_traceback():
    """`rageval list -v | true`: the pipe is closed when rageval writes; it stops quietly, exit 1."""
    reader, writer = os.pipe()
    proc = subprocess.Popen([sys.executable, "-m", "rageval.cli", "list", "-v"], stdout=writer, stderr=subprocess.PIPE)
    os.close(writer)
    os.close(reader)  # the reader is gone before rageval writes its first line
    _, err = proc.communicate(timeout=120)
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode()
    assert proc.returncode == 1


def test_version_and_examples(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("rageval ")
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "examples:" in capsys.readouterr().out
