"""The project's datasets: what each one is, loading it as images or as text, and seeded subsets.

One module a job, as ``timm.data`` keeps its loaders apart from its registry:

- :mod:`~explorer.core.data.registry`: :class:`DatasetInfo` and :data:`DATASETS`, every fact about a
  dataset before it is loaded (shape, classes, statistics, defaults, out-of-distribution partner,
  domain), in the order the app shows them; :data:`OWN_DATA`, what a bundle of other data is listed
  under, and :func:`domain_of`, which knows both.
- :mod:`~explorer.core.data.loading`: :func:`load_dataset`, the one entry point, which reads a split
  from :func:`data_root` through the loader of its domain; :data:`Dataset`, what it returns;
  :func:`readable_by`.
- :mod:`~explorer.core.data.images`: :class:`ImageData`, float32 ``(N, C, H, W)`` in [0, 1] pixel
  space: scikit-learn's digits and torchvision's MNIST, Fashion-MNIST and CIFAR-10.
- :mod:`~explorer.core.data.text`: :class:`TextData`, token ids ``(N, max_tokens)`` with their
  documents and vocabulary: 20 Newsgroups and Reuters R8.
- :mod:`~explorer.core.data.tokens`: words as the models read them (:func:`normalise`,
  :class:`Vocabulary`, padding and dropped words).
- :mod:`~explorer.core.data.splits`: seeded samples, stratified subsets and the training/validation
  split.

The public names of every module are importable from here, as from ``sklearn.datasets``, each loaded
from its module on first use, so that importing the registry alone loads no torch::

    from explorer.core.data import DATASETS, load_dataset, split_indices
"""

from __future__ import annotations

from explorer.core._lazy import lazy_exports

# Loaded on first use, as ``explorer``'s own names are: the registry alone is what the command line's
# parser and --help need, and importing the loaders would load torch (over a second).
__getattr__, __dir__, __all__ = lazy_exports(globals(), {
    "explorer.core.data.registry": ("DATASETS", "OWN_DATA", "DatasetInfo", "dataset_info", "datasets_of",
                                    "domain_of"),
    "explorer.core.data.loading": ("SPLITS", "Dataset", "data_root", "load_dataset", "readable_by"),
    "explorer.core.data.images": ("DIGITS_SPLIT", "DIGITS_SPLIT_SEED", "DIGITS_TEST_SIZE", "ImageData"),
    "explorer.core.data.text": ("TEXT_FILES", "TEXT_MIN_COUNT", "TextData"),
    "explorer.core.data.tokens": ("PAD", "UNKNOWN", "Vocabulary", "chosen_words", "drop_words", "newsgroup_text",
                                  "normalise"),
    "explorer.core.data.splits": ("split_indices", "stratified_fraction", "stratified_split", "subset_indices"),
})
