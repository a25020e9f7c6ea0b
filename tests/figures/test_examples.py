"""Single examples (explorer/figures/examples.py): image rows and probability bars."""

import numpy as np
import pytest

from explorer import figures as F
from figure_data import CLASSES


def test_image_row_draws_each_image_as_rgb_without_axes():
    grey, rgb = np.linspace(0, 1, 12).reshape(3, 4), np.full((3, 4, 3), 0.25)
    fig = F.image_row([grey, rgb], ["clean", "adversarial"])
    assert [a.text for a in fig.layout.annotations] == ["clean", "adversarial"]
    np.testing.assert_array_equal(fig.data[0].z, np.round(255 * np.repeat(grey[..., None], 3, axis=2)))
    np.testing.assert_array_equal(fig.data[1].z, 64)  # 0.25 of 255, rounded
    assert fig.layout.xaxis.visible is False and fig.layout.yaxis2.visible is False


@pytest.mark.parametrize("images, titles, match", [
    ([np.zeros((3, 4))], ["a", "b"], "one title per image"),
    ([np.zeros((3, 4, 2))], ["a"], r"images\[0\] must have shape"),
    ([np.zeros(4)], ["a"], r"images\[0\] must have shape"),
    ([np.full((3, 4), 2.0)], ["a"], r"images\[0\] must lie in \[0, 1\]"),
])
def test_image_row_rejects_bad_images(images, titles, match):
    with pytest.raises(ValueError, match=match):
        F.image_row(images, titles)


def test_probability_bars_group_the_given_probabilities():
    probs = {"A before": np.array([0.7, 0.2, 0.1]), "A after": np.array([0.1, 0.1, 0.8])}
    fig = F.probability_bars(probs, CLASSES)
    assert fig.layout.barmode == "group"
    for trace, (name, p) in zip(fig.data, probs.items()):
        assert trace.name == name and list(trace.x) == CLASSES
        np.testing.assert_array_equal(trace.y, p)
    with pytest.raises(ValueError, match=r"probs\['A'\] must have shape \(3,\)"):
        F.probability_bars({"A": np.array([0.5, 0.5])}, CLASSES)
