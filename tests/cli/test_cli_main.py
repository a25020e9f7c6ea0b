"""The command line as a whole: every subcommand has help, a bad argument is one line without a
traceback, and the usage and error lines name the command as it was started."""

import sys
import tomllib

import pytest

from cli_calls import ROOT, run_cli, run_console_script
from fresh_python import run_fresh
from explorer.cli import COMMAND, COMMANDS, main


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "usage:" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["train", "--dataset", "digits", "--method", "magic", "--out", "x.pt"], "invalid choice: 'magic'"),
    (["train", "--dataset", "digits", "--method", "vc", "--out", "x.pt", "--epochs", "0"], "epochs must be a finite number > 0"),
    (["evaluate", "missing.pt"], "missing.pt: no such file"),
    (["attack", "missing.pt", "--attack", "pgd", "--eps", "0.1"], "no such file"),
    (["evaluate", "README.md"], "not a readable checkpoint"),
])
def test_bad_arguments_give_one_line_and_no_traceback(args, message):
    code, out, err = run_cli(*args)
    assert code != 0
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_the_whole_parser_loads_no_torch():
    """Every subcommand's flags, with the datasets' choices, are built from the registry and the configs
    alone: --help, and vc-explorer app before it becomes Streamlit, never wait for torch."""
    code = ("import sys\n"
            "from explorer.cli import build_parser\n"
            "build_parser()\n"
            "print('torch' in sys.modules)\n")
    assert run_fresh(code).split() == ["False"]


def test_the_console_script_is_the_command_this_package_names():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {COMMAND: "explorer.cli:main"}


def test_usage_and_errors_name_the_command_as_it_was_started(tmp_path, monkeypatch, capsys):
    code, _, err = run_console_script(tmp_path, "train", "--dataset", "digits", "--method", "magic", "--out", "x.pt")
    assert code == 2 and err.startswith("vc-explorer train: error: argument --method: invalid choice: 'magic'")
    code, _, err = run_console_script(tmp_path, "evaluate", "missing.pt")
    assert code == 1 and err == "vc-explorer evaluate: error: missing.pt: no such file\n"
    # main() called from Python (and python -m explorer) keeps the module's name
    monkeypatch.setattr(sys, "argv", ["/usr/lib/python3/site-packages/pytest/__main__.py"])
    assert main(["evaluate", "missing.pt"]) == 1
    assert capsys.readouterr().err.startswith("python -m explorer evaluate: error: ")


def test_arguments_no_command_takes_are_refused_in_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        main(["evaluate", "missing.pt", "--server.port=8600"])
    assert info.value.code == 2
    assert capsys.readouterr().err == ("python -m explorer: error: unrecognized arguments: --server.port=8600 "
                                       "(see --help)\n")
