"""Out-of-distribution latents drawn over a model's class Gaussians: the latent map
(:func:`explorer.figures.latents.latent_scatter`) with the OOD points added in a marker of their own."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from explorer.figures._style import array
from explorer.figures.latents import WEBGL_FROM, latent_scatter

OOD_MARKER = dict(symbol="x-thin", size=7, color="#EE7733", line=dict(width=1.5, color="#EE7733"), opacity=0.6)
"""How OOD points are drawn: orange thin crosses (Paul Tol's vibrant orange, in no class's palette), apart from
every class's circles."""


def ood_scatter(points, labels, class_names: Sequence[str], ood_points, ood_name: str, **latent_kwargs) -> go.Figure:
    """The in-distribution latents (or their 2-D placement) by class, with their class Gaussians, and
    the OOD latents placed the same way over them as :data:`OOD_MARKER` crosses.

    Args:
        points: (N, 2) in-distribution coordinates; labels (N,) their classes in [0, K).
        class_names: (K,) names, in class order.
        ood_points: (M, 2) out-of-distribution coordinates, placed as ``points`` were.
        ood_name: the legend entry of the OOD points, e.g. "fashion-mnist (1000)".
        latent_kwargs: passed to :func:`~explorer.figures.latents.latent_scatter` (``ellipses``,
            ``prior_points`` and ``prior_labels``, ``note``, ``title``, ``axis_titles``, ``axis_range``).
    """
    ood_points = array(ood_points, "ood_points", (None, 2))
    fig = latent_scatter(points, labels, class_names, **latent_kwargs)
    trace = go.Scattergl if len(ood_points) + len(points) >= WEBGL_FROM else go.Scatter
    fig.add_trace(trace(x=ood_points[:, 0], y=ood_points[:, 1], mode="markers", name=ood_name, marker=OOD_MARKER,
                        hovertemplate=f"{ood_name}<br>#%{{customdata}}<extra></extra>",
                        customdata=np.arange(len(ood_points))))
    return fig


__all__ = ["OOD_MARKER", "ood_scatter"]
