"""Entry point: ``streamlit run explorer/Home.py`` (or ``vc-explorer app``). Lists the pages and draws
the shared sidebar. The package is imported as installed (``pip install -e .``, which the README's
first command runs through ``requirements.txt``)."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

try:  # light: the app's heavy modules load after Home's text and its shipped figure are sent
    from explorer.app import guide, state
    from explorer.app.preload import FIGURE, preload
    from explorer.app.views import home as home_view
except ModuleNotFoundError as missing:
    if missing.name != "explorer":
        raise
    st.error("The `explorer` package is not installed in this Python. In the repository, run "
             "`pip install -e .` (or `pip install -r requirements.txt`), then start the app again.")
    st.stop()

INTRODUCTION = (
    "**A softmax classifier is a latent-variable model.** The vector *z* that enters its last "
    "layer is a latent variable, and the softmax layer is Bayes' rule, p(y|z) ∝ p(z|y) π_y, over "
    "class-conditional distributions p(z|y) it never states: for an ordinary linear layer, "
    "Gaussians with one shared covariance Σ. Any Σ gives the same probabilities, so the layer "
    "implies a family of them; the map draws the member fitted to the model's validation "
    "latents, the fairest reading of the layer.\n\n"
    "**The mismatch.** Cross-entropy never asks the latents of class *y* to follow p(z|y). A "
    "correctly classified latent lowers the loss further by moving outwards, so the latents "
    "stretch into long spokes whose norms keep growing. Even the best-fitting Gaussians of the "
    "family miss them: with a two-dimensional latent, the test latents lie well beyond the "
    "fitted ellipses, and the layer's probabilities are computed from densities its latents do "
    "not have. With more dimensions the fit is closer, but their shape still is not Gaussian.\n\n"
    "**Variational classification** (Dhuliawala, Sachan and Allen, 2024) adds a KL term, "
    "estimated with a class-conditional discriminator, that pulls the latents of each class "
    "onto its Gaussian, so that Bayes' rule is applied to densities that hold.\n\n"
    "**What this project's VC does.** It follows the paper's objective: the Gaussians are fitted to the "
    "latents by maximum likelihood, and the encoder gets the cross-entropy plus a KL term (the closed "
    "form from each class's batch mean and variance, on digits its correlations too) that makes its "
    "latents fill their Gaussians. The "
    "authors' released code lets the prior term pull every latent onto its class mean instead, so its "
    "latents gather far inside their Gaussians: the shipped *vc (released, linear)* models at d = 2 show "
    "it (the Latent space page's χ² check tells the two apart)."
)

def render_sidebar() -> state.Selection:
    """The shared sidebar (models A and B, seed, upload): what every page reads its selection from. It
    is drawn by this script, not by a page, so that its choices hold from page to page."""
    from explorer.app import sidebar  # imports torch and the project: seconds on a fresh server

    return sidebar.render()


def introduction(pages: list[st.Page]) -> tuple[DeltaGenerator, bool]:
    """Home's text, its figure and the list of ``pages`` (the ``st.Page`` of each of
    :data:`guide.PAGES`), sent before anything heavy is imported: the shipped figure when it shows the
    selection (a first visit's default), else a placeholder, which :func:`draw_map` fills. Returns the
    figure's box and whether the shipped figure is in it."""
    st.title("vc-explorer")
    st.markdown(INTRODUCTION)
    box = st.empty()
    get = st.session_state.get
    choice = (get(state.MODEL_A), int(get(state.SEED, 0)), st.query_params.get("dataset"))
    preload(FIGURE)  # plotly and what it looks up, complete: another session may be importing them now
    # Else an empty figure at once: the browser loads its plotting code while the server loads torch.
    box.plotly_chart(home_view.shipped_chart(*choice), width="stretch")
    st.markdown("**The pages:**")
    for info, page in zip(guide.PAGES, pages):
        st.page_link(page, label=f"{info.title}: {info.summary}", icon=info.icon)
    return box, home_view.shipped_figure(*choice) is not None


def draw_map(figure_box: DeltaGenerator, shipped_drawn: bool, selected: state.Selection) -> None:
    """Model A's map in the box :func:`introduction` returned, now that the sidebar has chosen
    (``selected``); left as it is when the shipped figure drawn there (``shipped_drawn``) shows it."""
    from explorer.core.errors import ExplorerError

    if selected.model_a is None:
        figure_box.empty()
        return
    # The sidebar may have chosen otherwise than introduction() guessed (a link, an unknown ?dataset=).
    if shipped_drawn and home_view.shows_shipped(selected.model_a, selected.seed):
        return
    try:
        shipped = home_view.shipped_figure(selected.model_a, selected.seed) is not None
        figure_box.plotly_chart(home_view.shipped_chart(selected.model_a, selected.seed) if shipped else
                                home_view.live_figure(selected.model_a, selected.seed), width="stretch")
    except ExplorerError as error:
        figure_box.error(str(error))


def main() -> None:
    """One run of the app: the navigation, Home's text when Home is the page, the sidebar, the page."""
    st.set_page_config(page_title="vc-explorer", page_icon=":material/scatter_plot:", layout="wide")
    pages = [st.Page(info.script, title=info.title, icon=info.icon) for info in guide.PAGES]
    figure = selected = None  # what introduction() sent, what the sidebar chose: set below, before the page runs

    def home() -> None:
        """Home's second part, in the page's own run (st.Page takes a callable without arguments)."""
        if figure is not None:
            draw_map(*figure, selected)

    home_page = st.Page(home, title=guide.HOME.title, icon=guide.HOME.icon, default=True)
    navigation = st.navigation([home_page, *pages])
    # Home's text goes to the browser first; the sidebar (torch, the catalogue) follows, then the page.
    figure = introduction(pages) if navigation is home_page else None
    # Everything the pages import, once, by one session while the others wait: several sessions
    # importing torch and the project at once can see each other's modules half-initialised.
    preload()
    selected = render_sidebar()
    try:
        navigation.run()
    finally:  # after the page, so that its first run does not share the CPU with UMAP's compilation
        from explorer.app import cache

        cache.umap_pool()  # starts compiling UMAP in its own process


main()
