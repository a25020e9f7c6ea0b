"""Plotly figure builders: every figure the app and the results report show, drawn from values computed
elsewhere.

Display only, like scikit-learn's ``CalibrationDisplay`` next to ``calibration_curve``: a builder takes
numpy arrays or plain Python values that the library has already computed (reliability bins,
projections, distances, histories), checks their shapes at the boundary (an ``ArgumentError``, a ``ValueError``, naming
the bad argument) and returns a ``plotly.graph_objects.Figure``. Nothing here computes a metric, and
nothing imports streamlit or torch, so the same builders serve the app (``st.plotly_chart(fig)``) and
notebooks (``fig.show()``). Drawing-only arithmetic stays: histogram bar heights, the χ² density
curve, closing an ellipse.

One module per family of figures (``distributions``, ``calibration``, ``latents``, ``curves``,
``sweeps``, ``examples``, ``selective``, ``ood``) and one shared style (:mod:`explorer.figures._style`: fonts, palette, the
checks at the boundary); figures as files in ``export`` (HTML, a zip) and ``static`` (PNG). A ``title``
left empty gives the builder's default title. This tier imports plotly, numpy, scipy (for the χ²
density a histogram is drawn against) and choreographer (how ``static`` finds the browser plotly's
PNG export drives), and of the project only ``explorer.core._validation`` and
``explorer.core.errors``, which import numpy alone.
"""

from explorer.figures._style import PALETTE
from explorer.figures.calibration import decomposition_figure, reliability_diagram, smooth_reliability_diagram
from explorer.figures.curves import TRAINING_PANELS, accuracy_vs, training_curves
from explorer.figures.distributions import chi2_histogram, confidence_histogram, norm_histogram, score_histograms
from explorer.figures.examples import image_row, probability_bars
from explorer.figures.latents import latent_replay, latent_scatter
from explorer.figures.ood import ood_scatter
from explorer.figures.selective import coverage_bars, risk_coverage_figure, set_size_histogram
from explorer.figures.sweeps import SweepPanel, sweep_panels

__all__ = [
    "PALETTE", "SweepPanel", "TRAINING_PANELS", "accuracy_vs", "chi2_histogram", "confidence_histogram",
    "coverage_bars", "decomposition_figure", "image_row", "latent_replay", "latent_scatter", "norm_histogram",
    "ood_scatter", "probability_bars", "reliability_diagram", "risk_coverage_figure", "score_histograms",
    "set_size_histogram", "smooth_reliability_diagram", "sweep_panels", "training_curves",
]
