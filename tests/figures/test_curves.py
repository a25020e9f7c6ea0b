"""Training curves and sweeps (explorer/figures/curves.py)."""

import pytest

from explorer import figures as F
from figure_data import CLASSES, HISTORY


def test_training_curves_skip_missing_keys_and_draw_one_norm_line_per_class():
    fig = F.training_curves(HISTORY, class_names=CLASSES)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == [F.TRAINING_PANELS[k] for k in
                      ("loss", "cross_entropy", "prior_nll", "val_accuracy", "val_ece", "val_nll", "latent_norm")]
    norms = [trace for trace in fig.data if trace.name in CLASSES]
    assert len(norms) == 3 and len(fig.data) == 6 + 3
    assert norms[1].y == (2.0, None)  # NaN becomes a gap
    assert fig.data[0].x == (1, 2) and fig.data[0].y == (1.2, 0.8)


@pytest.mark.parametrize("history, match", [
    ([], "history is empty"),
    ([{"seconds": 1.0}], "none of the keys"),
    ([{"loss": "high"}], r"history\[0\]\['loss'\] must be a number"),
    ([{"latent_norm": 3.0}], "latent_norm values must be lists"),
])
def test_training_curves_reject_bad_history(history, match):
    with pytest.raises(ValueError, match=match):
        F.training_curves(history)


def test_accuracy_vs_draws_one_line_per_series():
    fig = F.accuracy_vs([0.01, 0.1, 1.0], {"A": [0.5, 0.6, 0.9], "B": [0.6, None, 0.95]},
                        "training fraction", log_x=True)
    assert [trace.y for trace in fig.data] == [(0.5, 0.6, 0.9), (0.6, None, 0.95)]
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.title.text == "accuracy"
    with pytest.raises(ValueError, match=r"series\['A'\] has 2 values but x_values has 3"):
        F.accuracy_vs([1, 2, 3], {"A": [0.5, 0.6]}, "severity")
    with pytest.raises(ValueError, match="> 0 on a log axis"):
        F.accuracy_vs([0, 1], {"A": [0.5, 0.6]}, "ε", log_x=True)
