"""The Streamlit app layer: the page guide, session state, caches, the UMAP worker, the shared sidebar
and one view module per page (``views/``); the pages themselves live in ``pages/``."""
