"""The project's datasets before any is loaded: what each one is, in the order the app shows them.

A :class:`DatasetInfo` holds every fact about one dataset: its input shape, class names, pixel
statistics, its settings of the configs, its out-of-distribution partner, its domain (images or
text). :data:`DATASETS` lists them by name, built once and read-only afterwards: the command line's
choices, the app's dataset list, :func:`~explorer.core.config.default_configs` and the benchmark all
read them here. :data:`OWN_DATA` names the data of a bundle that holds no project dataset's test
split. The loaders (:mod:`~explorer.core.data.images`, :mod:`~explorer.core.data.text`) turn a name
into data. Imports no torch: the command line's parser reads this module alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from explorer.core.errors import ArgumentError


class _ReadOnlyDict(dict):
    """A dict that refuses every change (``TypeError``, as a ``MappingProxyType`` does), yet pickles,
    copies and passes through :func:`dataclasses.asdict` as a dict: a ``MappingProxyType`` does none
    of the three. A copy (``dict(d)``, ``d.copy()``, ``d | other``) is an ordinary dict."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("a dataset's settings are read-only; change a copy (dict(...)) instead")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self):
        # rebuilt from a plain dict: the default reduction of a dict subclass refills it item by item
        return type(self), (dict(self),)


OWN_DATA = "own data"
"""The data a bundle is listed under when its rows are not a project dataset's test split (it names
no ``dataset``): the sidebar's choice beside :data:`DATASETS`, never a dataset of its own."""


@dataclass(frozen=True)
class DatasetInfo:
    """Everything known about a dataset before loading it: shape, classes, statistics and defaults.

    ``mean`` and ``std`` are per-channel statistics of the training images in [0, 1] (population std
    over all pixels), used by the model's internal normalisation. ``defaults`` are the dataset's
    settings of :class:`~explorer.core.config.ModelConfig` and :class:`~explorer.core.config.TrainConfig`
    (encoder, epochs, ...; see :func:`~explorer.core.config.default_configs`); ``paper_vc`` are those of
    method ``vc`` under the paper's objective alone, where the dataset's validation split chose other
    values than :data:`~explorer.core.config.OBJECTIVE_DEFAULTS` (the KL estimator, λ_kl). ``ood`` names the
    dataset whose test split serves as its out-of-distribution set, or None where there is no natural
    one (the app then uses uniform noise; the benchmark measures no OOD). :data:`DATASETS` lists the
    datasets in the order the app shows them. For text, ``mean`` and ``std`` are empty.
    """

    name: str
    input_shape: tuple[int, ...]  # (C, H, W) of an image, (max_tokens,) of a document
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    needs_download: bool
    defaults: Mapping[str, object] = dataclasses.field(default_factory=dict, hash=False)
    ood: str | None = None
    paper_vc: Mapping[str, object] = dataclasses.field(default_factory=dict, hash=False)
    domain: str = "image"
    """``"image"``: ``input_shape`` is (C, H, W) in [0, 1]; ``"text"``: it is (max_tokens,), token ids."""

    def __post_init__(self) -> None:
        for name in ("defaults", "paper_vc"):  # read-only, as the rest, and still picklable
            object.__setattr__(self, name, _ReadOnlyDict(getattr(self, name)))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


_DIGIT_NAMES = tuple(str(i) for i in range(10))

# Chosen on 20 Newsgroups' validation split (10 % of its training split, seed 0, then seeds 0 and 1),
# against TF-IDF + logistic regression there. The TF-IDF-weighted sum of word embeddings (BagEncoder)
# beat their plain and idf-weighted means; weight decay 5e-4 beat 1e-4 and 3e-4; hashed bigrams cost
# accuracy and 128 dimensions gained little for twice the weights. With 20 classes a batch of 64 holds
# about 3 latents of a class, too few for the moment KL's class means and variances, so batches of 256
# at lr 3e-2; dropping words at random (word_dropout) 0.5 beat 0.3, 0.7 and dropout on the embedding;
# VC keeps λ_kl = 0.1 (0.03 was less accurate); 30 epochs beat 20 and tied 40; GloVe 6B 50-d vectors
# as the initial embedding lost to a random one. Each choice against these defaults is measured by
# ``python benchmarks/select_vc.py --dataset 20newsgroups --seeds 0 1 --variants paper:moment:0.1 paper:moment:0.03
# --set NAME=VALUE`` (word_dropout, weight_decay, batch_size, lr, epochs, embedding_dim,
# ngram_buckets); the means of embeddings and the GloVe start were measured with encoders the project
# no longer has, so only these conclusions remain of them. Seconds an epoch: benchmarks/bench_text.py.
_TEXT_DEFAULTS = {"encoder": "bag", "latent_dim": 16, "epochs": 30, "batch_size": 256, "lr": 3e-2,
                  "weight_decay": 5e-4, "word_dropout": 0.5, "embedding_dim": 64, "ngram_buckets": 0}

DATASETS: Mapping[str, DatasetInfo] = MappingProxyType({
    info.name: info
    for info in (
        # Computed once from the training split (x / 16 over all pixels of the 1347 images).
        # Defaults sized so that the default run is good and quick on a laptop CPU (see README). lr chosen
        # on the validation split over 5 seeds, softmax and vc at d = 2 and 16: 3e-3 was more accurate
        # than 1e-3, and cosine and constant schedules tied: ``python benchmarks/select_vc.py --latent-dim 2
        # --seeds 0 1 2 3 4 --variants paper:moment_corr:0.03 --set lr=0.001`` (and ``schedule=constant``,
        # and ``--latent-dim 16``).
        # paper_vc: chosen on the validation split over 8 seeds: docs/tuning/digits-d16.md and -d2.md,
        # which TrainConfig.objective cites.
        DatasetInfo("digits", (1, 8, 8), _DIGIT_NAMES, (0.3052,), (0.3760,), needs_download=False,
                    defaults={"encoder": "mlp", "latent_dim": 16, "epochs": 60, "batch_size": 64, "lr": 3e-3},
                    paper_vc={"kl_estimator": "moment_corr", "lambda_kl": 0.03}),
        # MNIST and Fashion-MNIST: computed from torchvision's training files (60 000 images).
        DatasetInfo("mnist", (1, 28, 28), _DIGIT_NAMES, (0.1307,), (0.3081,), needs_download=True,
                    defaults={"encoder": "cnn", "latent_dim": 16, "epochs": 5, "batch_size": 128},
                    ood="fashion-mnist"),
        DatasetInfo(
            "fashion-mnist",
            (1, 28, 28),
            ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
            (0.2860,),
            (0.3530,),
            needs_download=True,
            defaults={"encoder": "cnn", "latent_dim": 16, "epochs": 10, "batch_size": 128},
            ood="mnist",
        ),
        # CIFAR-10: the widely quoted statistics of the 50 000 training images (population std).
        DatasetInfo(
            "cifar10",
            (3, 32, 32),
            ("airplane", "automobile", "bird", "cat", "deer",
             "dog", "frog", "horse", "ship", "truck"),
            (0.4914, 0.4822, 0.4465),
            (0.2470, 0.2435, 0.2616),
            needs_download=True,
            defaults={"encoder": "resnet18", "latent_dim": 64, "epochs": 30, "batch_size": 128,
                      "augment": "crop_flip"},
        ),
        # The text sets: 512 token ids a document, the defaults chosen above.
        DatasetInfo("20newsgroups", (512,), (
            "alt.atheism", "comp.graphics", "comp.os.ms-windows.misc", "comp.sys.ibm.pc.hardware",
            "comp.sys.mac.hardware", "comp.windows.x", "misc.forsale", "rec.autos", "rec.motorcycles",
            "rec.sport.baseball", "rec.sport.hockey", "sci.crypt", "sci.electronics", "sci.med", "sci.space",
            "soc.religion.christian", "talk.politics.guns", "talk.politics.mideast", "talk.politics.misc",
            "talk.religion.misc"), (), (), needs_download=True, defaults=_TEXT_DEFAULTS, ood="reuters-r8",
            domain="text"),
        DatasetInfo("reuters-r8", (512,), ("acq", "crude", "earn", "grain", "interest", "money-fx", "ship", "trade"),
                    (), (), needs_download=True, defaults=_TEXT_DEFAULTS, ood="20newsgroups", domain="text"),
    )
})
"""Every dataset by name, in the order the app shows them (the image sets, then the text sets);
read-only, like each :class:`DatasetInfo` in it."""


def domain_of(name: str) -> str:
    """What the rows of the data called ``name`` are, "image" or "text", for a page or a report that
    may also hold a bundle of other data: a project dataset's ``DatasetInfo.domain``, and "image" for
    :data:`OWN_DATA` (a bundle carries its inputs as images, or none at all; never documents). Any
    other name raises an ``ArgumentError`` listing the known ones; where only a project dataset may
    arrive, ``dataset_info(name).domain`` refuses :data:`OWN_DATA` too."""
    if name == OWN_DATA:
        return "image"
    if name not in DATASETS:
        raise ArgumentError(f"unknown dataset {name!r}; expected one of {[*DATASETS, OWN_DATA]}")
    return DATASETS[name].domain


def datasets_of(domain: str) -> tuple[str, ...]:
    """The names of the datasets of one domain, in :data:`DATASETS`' order."""
    return tuple(name for name, info in DATASETS.items() if info.domain == domain)


def dataset_info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of ``name``; an error listing the known datasets otherwise."""
    if name not in DATASETS:
        raise ArgumentError(f"unknown dataset {name!r}; expected one of {sorted(DATASETS)}")
    return DATASETS[name]


__all__ = ["DATASETS", "OWN_DATA", "DatasetInfo", "dataset_info", "datasets_of", "domain_of"]
