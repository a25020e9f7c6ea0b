"""Single examples: a row of images, and grouped bars of class probabilities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.core.errors import ArgumentError
from explorer.figures import _style as base


def image_row(images: Sequence[np.ndarray], titles: Sequence[str], title: str = "") -> go.Figure:
    """A row of images without axes, e.g. clean, perturbation (amplified into [0, 1]), adversarial.

    Args:
        images: each (H, W) greyscale or (H, W, 3) RGB with values in [0, 1]; sizes may differ.
        titles: one title per image.
    """
    if not images or len(images) != len(titles):
        raise ArgumentError(f"need one title per image and at least one image, got {len(images)} images "
                            f"and {len(titles)} titles")
    fig = make_subplots(rows=1, cols=len(images), subplot_titles=list(titles), horizontal_spacing=0.03)
    for i, image in enumerate(images):
        image = base.array(image, f"images[{i}]", (None, None, 3) if np.ndim(image) == 3 else (None, None))
        base.in_unit_interval(image, f"images[{i}]")
        rgb = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image
        fig.add_trace(go.Image(z=np.round(255 * rgb).astype(np.uint8), name=titles[i]), row=1, col=i + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return base.style(fig, title, height=380)


def probability_bars(probs: Mapping[str, np.ndarray], class_names: Sequence[str],
                     title: str = "") -> go.Figure:
    """Grouped bars of class probabilities, one group per class and one bar colour per entry.

    Args:
        probs: legend name → (K,) probabilities in [0, 1], e.g. {"A before": ..., "A after": ...}.
        class_names: (K,) class names, the x axis.
    """
    k = len(class_names)
    traces = []
    for i, (name, p) in enumerate(base.nonempty(probs, "probs").items()):
        p = base.in_unit_interval(base.array(p, f"probs[{name!r}]", (k,)), f"probs[{name!r}]")
        traces.append(go.Bar(x=list(class_names), y=p, name=name, marker_color=base.color(i)))
    fig = go.Figure(traces)
    fig.update_layout(barmode="group", xaxis_title="class",
                      yaxis=dict(title="probability", range=[0, 1.02]))
    return base.style(fig, title or "Class probabilities")
