"""Adversarial examples: one test example attacked on models A and B, and robust accuracy against ε."""

import streamlit as st

from explorer.app import cache, sources, state
from explorer.app.views import adversarial as view
from explorer.core.config import AttackConfig, help_of
from explorer.core.data import domain_of
from explorer.core.errors import ExplorerError

st.title("Adversarial examples")
selected = state.models_or_stop()
if domain_of(selected.dataset) == "text":
    st.info(view.TEXT_NOTE)
    st.stop()
st.markdown("Each model is attacked with its own gradient (untargeted, L∞). ε is in pixel units of images "
            "in [0, 1], applied before the model's normalisation.")
defaults = AttackConfig()

try:
    chosen = [("Model A", sources.source(selected.model_a)), ("Model B", sources.source(selected.model_b))]
    for name, c in chosen:
        if c.is_bundle:
            sources.needs_model(name, c, "attacks")
    models = [(name, c.path) for name, c in chosen if not c.is_bundle]
    if not models:
        st.stop()
    n_test = len(cache.test_split(selected.dataset).y)
    class_names = list(chosen[0][1].class_names)
    clicked = state.chosen_example(selected.dataset)  # on a latent map of this dataset, or None
    from_click = isinstance(clicked, int) and 0 <= clicked < n_test
    controls = st.columns(4)
    source = controls[0].radio("Example", list(view.EXAMPLE_SOURCES), format_func=view.EXAMPLE_SOURCES.get,
                               index=1 if from_click else 0)
    index = controls[0].number_input(f"Index (0 to {n_test - 1})", 0, n_test - 1, clicked if from_click else 0,
                                     disabled=source == "random")
    attack = controls[1].radio("Attack", list(view.ATTACK_NAMES), format_func=view.ATTACK_NAMES.get,
                               index=list(view.ATTACK_NAMES).index(defaults.attack), horizontal=True,
                               help=help_of(AttackConfig, "attack"))
    steps = controls[1].number_input("PGD steps", 1, 100, defaults.steps, disabled=attack == "fgsm",
                                     help=f"{help_of(AttackConfig, 'steps')}; alpha is the "
                                          f"{help_of(AttackConfig, 'alpha')}")  # the page leaves alpha to its rule
    eps = controls[2].slider("ε", 0.0, view.EPS_MAX, defaults.eps, step=0.01, help=help_of(AttackConfig, "eps"))
    controls[3].metric("Seed (sidebar)", selected.seed)
    config = AttackConfig(attack=attack, eps=eps, steps=int(steps), seed=selected.seed)

    example = view.example_index(source, n_test, selected.seed, int(index))
    label = class_names[int(cache.test_split(selected.dataset).y[example])]
    how = f"drawn with seed {selected.seed}" if source == "random" else "chosen by index"
    if from_click and source == "index" and example == clicked:
        how = "selected on the Latent space page"
    random_start = f"; PGD's random start uses seed {selected.seed}" if attack == "pgd" else ""
    st.caption(f"Test example #{example} (label {label}), {how}{random_start}.")

    st.caption(f"Perturbation x_adv − x shown ×{view.amplification(eps):.3g}: grey is 0, black −ε, white +ε.")
    results = {name: view.attack_example(path, selected.dataset, example, config) for name, path in models}
    for name, path in models:
        method = cache.model(path)[1]["method"]
        left, right = st.columns([3, 2])
        left.plotly_chart(view.images_figure(results[name], eps, class_names, f"{name} ({method})"),
                          width="stretch")
        right.plotly_chart(view.probabilities_figure(results[name], class_names, f"{name}: class probabilities"),
                           width="stretch")

    st.subheader("The latent's path under the attack")
    for column, (name, path) in zip(st.columns(2), models):
        title = f"{name} ({cache.model(path)[1]['method']}): {view.ATTACK_NAMES[attack]}, ε = {eps:g}"
        column.plotly_chart(view.path_figure(path, selected.dataset, results[name], selected.seed, title),
                            width="stretch")

    st.subheader("Robust accuracy against ε")
    settings = st.columns(2)
    eps_text = settings[0].text_input("ε values (comma-separated)", view.EPS_VALUES)
    n = int(settings[1].number_input("Test images", 1, n_test, min(view.ROBUST_N, n_test),
                                     help=f"Drawn without replacement with seed {selected.seed}."))
    eps_values = view.parse_eps(eps_text)
    request = (*(str(path) for _, path in models), attack, config.steps, eps_values, n, selected.seed)
    if st.button(f"Compute {view.ATTACK_NAMES[attack]} robust accuracy on {n} test images"):
        st.session_state[state.ROBUST_REQUEST] = request
    if st.session_state.get(state.ROBUST_REQUEST) == request:
        bar = st.progress(0.0, text="Attacking…")
        curves = view.robust_curves(models, selected.dataset, config, eps_values, n, selected.seed,
                                    progress=lambda done, total: bar.progress(
                                        done / total, text=f"{done} of {total} (model, ε) pairs"))
        bar.empty()
        st.plotly_chart(view.robust_figure(eps_values, curves, attack, n, selected.seed), width="stretch")
        st.caption("Each point is cached: asking again with the same settings redraws at once.")
except ExplorerError as error:
    st.error(str(error))
