"""Lines over epochs and over swept settings: training curves, accuracy against ε, severity or data."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.core.errors import ArgumentError
from explorer.figures import _style as base


TRAINING_PANELS = {
    "loss": "total loss (nats)",
    "cross_entropy": "cross-entropy (nats)",
    "prior_nll": "prior NLL −log p(z|y) (nats)",
    "kl_estimate": "KL estimate (nats)",
    "disc_accuracy": "discriminator accuracy",
    "val_accuracy": "validation accuracy",
    "val_ece": "validation ECE",
    "val_nll": "validation NLL (nats)",
    "latent_norm": "mean ‖z‖ per class (validation)",
}
"""History keys :func:`training_curves` draws, in panel order, with their panel titles."""


def training_curves(history: Sequence[Mapping[str, object]], class_names: Sequence[str] | None = None,
                    title: str = "") -> go.Figure:
    """Small multiples over epochs of the training history, one panel per key of :data:`TRAINING_PANELS`.

    A key is drawn if at least one record holds it; others are skipped (softmax has no
    ``kl_estimate``). ``latent_norm`` holds a list per record (mean ‖z‖ per class) and becomes one line
    per class in the class colours. Missing or NaN values leave a gap in their line.

    Args:
        history: one dict per epoch, as ``explorer.jobs.training.train`` records it; x is ``record["epoch"]``,
            or 1, 2, ... when absent.
        class_names: legend names of the latent-norm lines (default "class 0", "class 1", ...).
    """
    if not history:
        raise ArgumentError("history is empty: need at least one epoch record")
    keys = [key for key in TRAINING_PANELS if any(key in record for record in history)]
    if not keys:
        raise ArgumentError(f"history holds none of the keys {', '.join(TRAINING_PANELS)}")
    epochs = [record.get("epoch", i + 1) for i, record in enumerate(history)]
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    height = 120 + 330 * rows
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[TRAINING_PANELS[key] for key in keys],
                        horizontal_spacing=0.08, vertical_spacing=110 / (height - 150))  # 110 px
    for i, key in enumerate(keys):
        cell = dict(row=i // cols + 1, col=i % cols + 1)
        if key != "latent_norm":
            y = [base.number(record.get(key), f"history[{e}][{key!r}]") for e, record in enumerate(history)]
            fig.add_trace(go.Scatter(x=epochs, y=y, mode="lines+markers", name=key, showlegend=False,
                                     line=dict(color="#444444", width=base.LINE_WIDTH)), **cell)
            continue
        per_epoch = [record.get(key) or [] for record in history]
        if not all(isinstance(norms, Sequence) for norms in per_epoch):
            raise ArgumentError("history's latent_norm values must be lists (mean ‖z‖ per class)")
        n_classes = max(len(norms) for norms in per_epoch)
        names = class_names or [f"class {c}" for c in range(n_classes)]
        if len(names) < n_classes:
            raise ArgumentError(f"class_names has {len(names)} names, latent_norm {n_classes} classes")
        for c in range(n_classes):
            y = [base.number(norms[c], f"history[{e}]['latent_norm'][{c}]") if c < len(norms) else None
                 for e, norms in enumerate(per_epoch)]
            fig.add_trace(go.Scatter(x=epochs, y=y, mode="lines+markers", name=names[c],
                                     line=dict(color=base.color(c), width=base.LINE_WIDTH)), **cell)
    fig.update_xaxes(title_text="epoch")
    return base.style(fig, title or "Training curves", height=height)


def accuracy_vs(x_values, series: Mapping[str, Sequence[float]], x_title: str, y_title: str = "accuracy",
                log_x: bool = False, title: str = "") -> go.Figure:
    """Lines with markers of one quantity against a swept setting, one line per model.

    For robust accuracy against ε, accuracy or ECE against corruption severity, or against the
    training fraction (``log_x=True``).

    Args:
        x_values: (S,) swept values (> 0 when ``log_x``).
        series: legend name → S values; None or NaN leaves a gap.
        x_title, y_title: axis titles, with units (e.g. "ε (pixel units, images in [0, 1])").
        log_x: logarithmic x axis.
    """
    x = base.array(x_values, "x_values", (None,))
    if log_x and x.min() <= 0:
        raise ArgumentError(f"x_values must be > 0 on a log axis, got {x.min():.4g}")
    traces = []
    for i, (name, values) in enumerate(base.nonempty(series, "series").items()):
        if len(values) != len(x):
            raise ArgumentError(f"series[{name!r}] has {len(values)} values but x_values has {len(x)}")
        color = base.color(i)
        traces.append(go.Scatter(x=x, y=[base.number(v, f"series[{name!r}]") for v in values], name=name,
                                 mode="lines+markers", line=dict(color=color, width=base.LINE_WIDTH),
                                 marker=dict(size=11, color=color)))
    fig = go.Figure(traces)
    fig.update_layout(xaxis=dict(title=x_title, type="log" if log_x else "linear"), yaxis_title=y_title)
    return base.style(fig, title or f"{y_title} against {x_title}")
