"""Entry point: ``streamlit run explorer/Home.py``. Lists the pages and draws the shared sidebar."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run` puts only explorer/ on the path, not the repository
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from explorer.app import cache, sidebar, state, views  # noqa: E402
from explorer.checkpoints import CheckpointError  # noqa: E402
from explorer.data import DatasetUnavailableError  # noqa: E402

PAGES = ROOT / "pages"


def home() -> None:
    st.title("vc-explorer")
    st.markdown(
        "**A softmax classifier is a latent-variable model.** The vector *z* that enters its last "
        "layer is a latent variable, and the softmax layer is Bayes' rule, p(y|z) ∝ p(z|y) π_y, over "
        "class-conditional distributions p(z|y) it never states: for an ordinary linear layer, "
        "Gaussians with one shared covariance, centred on the layer's (centred) weight rows.\n\n"
        "**The mismatch.** Cross-entropy never asks the latents of class *y* to follow p(z|y). A "
        "correctly classified latent lowers the loss further by moving outwards, so the latents "
        "stretch into long spokes whose norms keep growing, nothing like the Gaussians the layer "
        "assumes. Its probabilities are then computed from the wrong densities.\n\n"
        "**Variational classification** (Dhuliawala, Sachan and Allen, 2024) adds a KL term, "
        "estimated with a class-conditional discriminator, that pulls the latents of each class "
        "onto its Gaussian, so that Bayes' rule is applied to densities that hold."
    )
    selected = state.selection()
    if selected.model_a is not None:
        try:
            figure, _ = views.latent_figure(selected.model_a, "class", views.ProjectionConfig(),
                                            seed=selected.seed, title_prefix="Model A")
            st.plotly_chart(figure, width="stretch")
        except (CheckpointError, DatasetUnavailableError) as error:
            st.error(str(error))
    st.markdown("**The pages:**")
    for page, what in PAGE_GUIDE:
        st.page_link(page, label=f"{page.title}: {what}", icon=page.icon)


st.set_page_config(page_title="vc-explorer", page_icon=":material/scatter_plot:", layout="wide")
PAGE_GUIDE = [
    (st.Page(PAGES / "train.py", title="Train", icon=":material/model_training:"),
     "train a softmax or VC model live and watch its latents move"),
    (st.Page(PAGES / "latent_space.py", title="Latent space", icon=":material/scatter_plot:"),
     "the latents of models A and B against the Gaussians their last layers assume, with a χ² check"),
    (st.Page(PAGES / "calibration.py", title="Calibration", icon=":material/straighten:"),
     "reliability diagrams, calibration metrics, temperature scaling, calibration under shift"),
    (st.Page(PAGES / "adversarial.py", title="Adversarial", icon=":material/bolt:"),
     "FGSM and PGD examples, the latent's path under attack, robust accuracy against ε"),
    (st.Page(PAGES / "shift.py", title="Shift, low data, OOD", icon=":material/trending_down:"),
     "corruptions of growing severity, training on 1-100 % of the data, out-of-distribution scores"),
]
navigation = st.navigation([st.Page(home, title="Home", icon=":material/home:", default=True)]
                           + [page for page, _ in PAGE_GUIDE])
cache.umap_worker()  # starts compiling UMAP in its own process
sidebar.render()
navigation.run()
