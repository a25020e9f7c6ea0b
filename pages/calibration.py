"""Calibration: reliability of models A and B, clean and under corruption, with temperature scaling;
a bin chosen on a diagram rings its test examples on both latent maps."""

from functools import partial

import streamlit as st

from explorer.app import sources, state
from explorer.app.views import calibration as view
from explorer.core.config import DEFAULT_SEVERITY, N_BINS
from explorer.core.errors import ExplorerError
from explorer.measure.corruptions import LEVELS

st.title("Calibration")
selected = state.models_or_stop()

controls = st.columns(3)
n_bins = controls[0].slider("Bins", 5, 50, N_BINS, help="Equal-width confidence bins for the diagrams, "
                            "ECE, MCE and classwise ECE; equal-mass bins for adaptive ECE.")
scaling = controls[0].toggle("Temperature scaling", help="Divide the logits by one T per model, fitted "
                             "by NLL on the model's own validation split (never the test split); for a "
                             "bundle, on its val_logits and val_labels.")
corruption = controls[1].selectbox("Corruption", view.corruption_choices(selected.dataset),
                                   help="Applied to the test examples before prediction: images' pixels in "
                                        "[0, 1], or documents' words.")
severity = controls[2].slider("Severity", min(LEVELS), max(LEVELS), DEFAULT_SEVERITY,
                              disabled=corruption == view.CLEAN)
shift = view.Shift(None if corruption == view.CLEAN else corruption, severity, selected.seed)
st.caption(f"Measured on the {shift.describe()}."
           + (" The seed is the sidebar's." if shift.corruption else ""))

# both: the bin's maps show both models, even a bundle that a corruption leaves out of the diagrams
models = both = [("Model A", selected.model_a), ("Model B", selected.model_b)]
try:
    if shift.corruption:  # a corruption runs the model on corrupted images: a bundle has only its outputs
        for name, path in models:
            if (chosen := sources.source(path)).is_bundle:
                sources.needs_model(name, chosen, "corruptions")
        models = [(name, path) for name, path in models if not sources.source(path).is_bundle]
        if not models:
            st.stop()
    preds = [view.predictions(path, name, shift, scaling) for name, path in models]
    choices = view.bin_choices(preds, n_bins)
    options = list(choices)
    chosen = state.chosen_bin(selected.pair, n_bins, options)
    for column, pred in zip(st.columns(2), preds):
        column.plotly_chart(view.reliability_figure(pred, n_bins, chosen), width="stretch",
                            key=state.reliability_key(pred.side), on_select=partial(view.on_bin_click, pred.side),
                            selection_mode="points")
    st.caption("Bars: accuracy per confidence bin; hatched: the gap to the bin's mean confidence "
               "(above the bar: over-confident); below: samples per bin. Click a bin to ring its test "
               "examples on both latent maps below. Download any figure as PNG with the camera button "
               "of its toolbar (hover over the figure).")
    chosen = st.selectbox("Highlight a bin's test points", options, key=state.CALIBRATION_BIN,
                          format_func=choices.get)
    if chosen is not None:
        caption, maps = view.bin_maps(both, preds, chosen, n_bins, shift, selected.seed)
        st.caption(caption)
        for column, shown in zip(st.columns(2), maps):
            if shown.figure is None:
                column.info(shown.message)
            else:
                column.plotly_chart(shown.figure, width="stretch", key=f"bin_map_{shown.side}")

    st.subheader("Metrics")
    unscaled = [view.predictions(path, name, shift, False) for name, path in models] if scaling else None
    table = view.metrics_table(preds, n_bins, unscaled)
    st.dataframe(table, width="stretch", column_config={c: st.column_config.NumberColumn(format="%.4f")
                                                        for c in table.columns if c != "n"})
    downloads = st.columns(2)
    downloads[0].download_button("Metrics (CSV)", view.csv(table, shift), "calibration_metrics.csv",
                                 "text/csv")
    downloads[1].download_button("Reliability bins (CSV)", view.csv(view.bins_table(preds, n_bins), shift),
                                 "reliability_bins.csv", "text/csv")

    st.subheader("Confidence")
    st.plotly_chart(view.confidence_figure(preds, n_bins), width="stretch")
except ExplorerError as error:
    st.error(str(error))
