"""``ood``: every score by every detection metric with intervals, for checkpoints (against their dataset's
OOD set or noise) and for predictions bundles with ood_logits."""

import json

import numpy as np
import pytest

from cli_calls import one_line_error
from explorer.cli import main
from explorer.core.checkpoints import SHIPPED_DIR
from explorer.measure.ood import METRICS, SCORES


def _reports(capsys, *args):
    assert main(["ood", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_checkpoints_get_every_score_and_metric_with_an_interval(capsys):
    vc, softmax = _reports(capsys, str(SHIPPED_DIR / "digits-mlp-d2-vc.pt"),
                           str(SHIPPED_DIR / "digits-mlp-d16-softmax.pt"), "--n", "200", "--resamples", "100")
    for report in (vc, softmax):
        assert report["in"] == "digits test" and report["out"].startswith("uniform noise")
        assert report["n_in"] == report["n_out"] == 200 and report["resamples"] == 100
        assert list(report["scores"]) == list(SCORES)  # softmax too: under its fitted implied Gaussians
        for metrics in report["scores"].values():
            assert list(metrics) == list(METRICS)
            assert all(0 <= low <= value <= high <= 1 for value, low, high in metrics.values())
    # VC's logits are log p(z | k) + log π_k, so its energy log Σ_k exp ℓ_k is log p(z) itself.
    for metric in METRICS:  # (float32 logits: equal up to rounding, which can reorder near-ties)
        assert vc["scores"]["energy"][metric] == pytest.approx(vc["scores"]["log_density"][metric], abs=0.01)
    assert softmax["scores"]["energy"]["auroc"][0] > 0.9  # softmax's logits know noise is not a digit


def test_the_table_names_the_sets_and_the_convention(capsys):
    assert main(["ood", str(SHIPPED_DIR / "digits-mlp-d2-vc.pt"), "--n", "100", "--resamples", "50"]) == 0
    out = capsys.readouterr().out
    assert "digits test (100) against uniform noise (seed 0) (100); in-distribution positive" in out
    assert all(name in out for name in [*SCORES.values(), *METRICS.values()])


def test_a_bundle_is_scored_on_its_ood_outputs(logistic_bundle, tmp_path, capsys):
    from explorer.core.bundles import save_bundle

    folder, arrays = logistic_bundle
    noise = np.random.default_rng(0).uniform(size=(300, arrays["latents"].shape[1]))
    with_ood = {**arrays, "ood_logits": noise @ arrays["weight"].T + arrays["bias"], "ood_latents": noise}
    save_bundle(tmp_path / "ood.npz", **with_ood)
    save_bundle(tmp_path / "logits.npz", logits=arrays["logits"], labels=arrays["labels"],
                ood_logits=with_ood["ood_logits"])
    full, bare = _reports(capsys, str(tmp_path / "ood.npz"), str(tmp_path / "logits.npz"), "--resamples", "50")
    assert full["n_in"] == len(arrays["labels"]) and full["n_out"] == 300 and full["out"] == "its ood_logits"
    assert list(full["scores"]) == list(SCORES)
    assert list(bare["scores"]) == ["max_softmax", "max_logit", "energy", "neg_entropy"]  # no latents
    assert full["scores"]["max_softmax"] == bare["scores"]["max_softmax"]


def test_refusals(logistic_bundle, capsys):
    folder, _ = logistic_bundle
    assert "bare.npz has no ood_logits" in one_line_error(["ood", str(folder / "bare.npz")], capsys)
    assert "--n must be at least 1" in one_line_error(["ood", str(folder / "bare.npz"), "--n", "0"], capsys)
    assert "--resamples" in one_line_error(["ood", str(folder / "bare.npz"), "--resamples", "1"], capsys)
