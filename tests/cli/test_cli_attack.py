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
