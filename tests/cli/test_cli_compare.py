"""``compare``: several methods trained alike, one row of test metrics each."""

from explorer.cli import main


def test_compare_trains_each_method_alike_and_prints_one_row_each(tmp_path, capsys):
    assert main(["compare", "--methods", "softmax", "vc", "--latent-dim", "2", "--epochs", "1", "--hidden", "16",
                 "--out-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "digits, d = 2, seed 0, test split (n = 450)"
    assert lines[1].split() == ["method", "accuracy", "ece", "adaptive_ece", "nll", "brier"]
    assert [line.split()[0] for line in lines[2:]] == ["softmax", "vc"]
    assert all(0 <= float(value) for line in lines[2:] for value in line.split()[1:])
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["digits-softmax.pt", "digits-vc.pt"]
