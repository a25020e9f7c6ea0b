"""The Streamlit app layer: session state, caches and the shared sidebar (pages live in ``pages/``)."""
