"""``attack``: clean and robust accuracy of a checkpoint, and a budget outside [0, 1] refused in one line."""

import json

import pytest

from cli_calls import run_cli
from explorer.cli import main


@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
def test_attack_json(vc_checkpoint, attack, capsys):
    assert main(["attack", str(vc_checkpoint), "--attack", attack, "--eps", "0.2", "--n", "200", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 200
    assert result["robust_accuracy"] <= result["clean_accuracy"]


def test_bad_attack_budget(vc_checkpoint):
    code, _, err = run_cli("attack", str(vc_checkpoint), "--attack", "fgsm", "--eps", "2")
    assert code == 1 and "eps must be in [0, 1]" in err and "Traceback" not in err


def test_attack_help_is_the_configs_own(capsys, monkeypatch):
    from explorer.core.config import AttackConfig, help_of

    monkeypatch.setenv("COLUMNS", "10000")  # no wrapping: argparse may break a line at a hyphen
    with pytest.raises(SystemExit):
        main(["attack", "--help"])
    out = capsys.readouterr().out
    for name in ("attack", "eps", "steps", "alpha", "seed"):
        assert help_of(AttackConfig, name) in out, name
    assert "(default: 10)" in out and "(default: 2.5 * eps / steps)" in out
