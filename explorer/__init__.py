"""vc-explorer: softmax classifiers read as latent-variable models, and variational classification.

The library (everything under ``explorer`` except the app entry point) never imports Streamlit or
plotly; see ``../shared/docs/METHOD.md`` for the method it implements.
"""

__version__ = "0.1.0"
