"""Train: a model of your own, trained in the server's queue, with live curves, a checkpoint after every
epoch and a latent replay."""

import streamlit as st

from explorer.app import state
from explorer.app.views import train as train_view
from explorer.core.config import (
    ENCODERS, KL_ESTIMATORS, METHODS, OBJECTIVES, PRIORS, VARIANCES, ModelConfig, TrainConfig, default_configs, help_of,
)
from explorer.core.data import DATASETS
from explorer.core.errors import ExplorerError
from explorer.figures import training_curves

st.title("Train a model")
st.markdown("Train one model on one dataset. Digits trains in seconds on a CPU; MNIST, Fashion-MNIST "
            "and CIFAR-10, and the text sets 20 Newsgroups and Reuters R8 (bag encoder, about half a minute), "
            "need their files locally (`EXPLORER_DATA_DIR`) or a connection.")

dataset = st.selectbox("Dataset", list(DATASETS), key=state.TRAIN_DATASET,
                       help="Changing it brings that dataset's default settings.")
model_default, train_default = train_view.defaults(dataset)
try:
    limits = train_view.limits()
except ExplorerError as error:  # a limit set to something unusable in the server's environment
    st.error(str(error))
    st.stop()
encoders = [e for e in ENCODERS if e in limits.encoders]


def key(name: str) -> str:
    return train_view.field_key(dataset, name)


def model_help(name: str) -> str:
    return help_of(ModelConfig, name)


def train_help(name: str) -> str:
    return help_of(TrainConfig, name)


with st.form("train"):
    left, middle, right = st.columns(3)
    method = left.selectbox("Method", METHODS, index=METHODS.index(model_default.method), key=key("method"),
                            help=model_help("method"))
    encoder = left.selectbox("Encoder", encoders, index=encoders.index(model_default.encoder)
                             if model_default.encoder in encoders else 0, key=key("encoder"), help=model_help("encoder"))
    latent_dim = left.number_input("Latent dimension d", 1, 512, model_default.latent_dim, key=key("d"),
                                   help=model_help("latent_dim"))
    prior = left.selectbox("Prior family", PRIORS, index=PRIORS.index(model_default.prior), key=key("prior"),
                           help=model_help("prior"))
    nu = left.number_input("Student-t ν", 3, 1000, model_default.nu, key=key("nu"), help=model_help("nu"))
    lambda_prior = middle.number_input("λ_prior", 0.0, value=train_default.lambda_prior, format="%.3g",
                                       key=key("lambda_prior"), help=train_help("lambda_prior"))
    lambda_kl = middle.number_input("λ_kl", 0.0, value=train_default.lambda_kl, format="%.3g",
                                    key=key("lambda_kl"), help=train_help("lambda_kl"))
    objective = middle.selectbox("Objective", OBJECTIVES, index=OBJECTIVES.index(train_default.objective),
                                 key=key("objective"), help=train_help("objective"))
    kl_estimator = middle.selectbox("KL estimator", KL_ESTIMATORS,
                                    index=KL_ESTIMATORS.index(train_default.kl_estimator), key=key("kl_estimator"),
                                    help=train_help("kl_estimator"))
    disc_hidden = middle.number_input("MLP estimator width", 0, 1024, train_default.disc_hidden,
                                      key=key("disc_hidden"), help=train_help("disc_hidden"))
    variance = middle.selectbox("Variance of the class Gaussians", VARIANCES,
                                index=VARIANCES.index(model_default.variance), key=key("variance"),
                                help=model_help("variance"))
    epochs = right.number_input("Epochs", 1, limits.max_epochs, min(train_default.epochs, limits.max_epochs),
                                key=key("epochs"), help=train_help("epochs"))
    batch_size = right.number_input("Batch size", 1, limits.max_batch_size,
                                    min(train_default.batch_size, limits.max_batch_size), key=key("batch_size"),
                                    help=train_help("batch_size"))
    lr = right.number_input("Learning rate", 0.0, 1.0, train_default.lr, step=1e-4, format="%.1e",
                            key=key("lr"), help=train_help("lr"))
    train_fraction = right.number_input("Training fraction", 0.0, 1.0, train_default.train_fraction,
                                        step=0.05, key=key("train_fraction"), help=train_help("train_fraction"))
    seed = right.number_input("Seed", 0, 2**31 - 1, train_default.seed, key=key("seed"), help=train_help("seed"))
    st.caption(f"Runs train in this server's queue, {limits.workers} at a time, and go on when you leave this "
               f"page, touch a widget or close the tab: each epoch is saved as it ends, and the sidebar lists "
               f"the run once it has ended. Cancel stops a run at its next step and keeps its saved epochs. "
               f"Limits here: {limits.max_epochs} epochs, batch size {limits.max_batch_size}, encoders "
               f"{', '.join(encoders)}, {limits.max_per_session} runs queued or running per session.")
    submitted = st.form_submit_button("Train", type="primary")

if submitted:
    try:
        model_config, train_config = default_configs(
            dataset, method, encoder=encoder, latent_dim=int(latent_dim), variance=variance, prior=prior, nu=int(nu),
            lambda_prior=lambda_prior, lambda_kl=lambda_kl, objective=objective, kl_estimator=kl_estimator,
            disc_hidden=int(disc_hidden), epochs=int(epochs),
            batch_size=int(batch_size), lr=lr, train_fraction=train_fraction, seed=int(seed))
        train_view.submit(dataset, model_config, train_config)
    except ExplorerError as error:
        st.error(str(error))

train_view.show_queue()
run = train_view.last_run()
if run is None:
    st.stop()

st.subheader("Last run")
if run["complete"]:
    st.success(f"Trained {run['epochs_done']} epochs, seed {run['seed']}; saved as `{run['path']}`.")
else:
    stopped = "was cancelled" if run["outcome"] == "cancelled" else "failed"
    st.warning(f"The run {stopped} after epoch {run['epochs_done']} of {run['epochs']}. Those epochs are saved "
               f"in `{run['path']}`.")
metrics = run["metrics"]
columns = st.columns(4)
columns[0].metric(f"Accuracy ({run['metrics_split']})", f"{metrics['accuracy']:.3f}")
columns[1].metric(f"ECE ({run['metrics_split']})", f"{metrics['ece']:.3f}")
columns[2].metric(f"NLL ({run['metrics_split']})", f"{metrics['nll']:.3f}")
with columns[3]:
    st.button("Show as model A", on_click=train_view.use_as, args=(state.MODEL_A, run))
    st.button("Show as model B", on_click=train_view.use_as, args=(state.MODEL_B, run))
st.plotly_chart(training_curves(run["history"], run["class_names"]), width="stretch")

if run["latent_dim"] == 2 and run["snapshots"] is not None:
    st.subheader("Replay: how the latents moved")
    st.markdown("Softmax latents stretch into spokes whose norms keep growing; VC latents settle into the "
                "class Gaussians.")
    epoch = st.slider("Epoch (0: initialisation)", 0, run["epochs_done"], run["epochs_done"],
                      key=f"{state.TRAIN_REPLAY}:{run['path']}")
    st.plotly_chart(train_view.replay_figure(run, epoch), width="stretch")
