"""The project's datasets: what each one is, loading it as images or as text, and seeded subsets.

One module a job, as ``timm.data`` keeps its loaders apart from its registry:

- :mod:`~explorer.core.data.registry`: :class:`DatasetInfo` and :data:`DATASETS`, every fact about a
  dataset before it is loaded (shape, classes, statistics, defaults, out-of-distribution partner,
  domain), in the order the app shows them.
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

The public names of every module are importable from here, as from ``sklearn.datasets``::

    from explorer.core.data import DATASETS, load_dataset, split_indices
"""

from explorer.core.data.images import DIGITS_SPLIT, DIGITS_SPLIT_SEED, DIGITS_TEST_SIZE, ImageData
from explorer.core.data.loading import SPLITS, Dataset, data_root, load_dataset, readable_by
from explorer.core.data.registry import DATASETS, DatasetInfo, dataset_info, datasets_of, domain_of
from explorer.core.data.splits import split_indices, stratified_fraction, stratified_split, subset_indices
from explorer.core.data.text import TEXT_FILES, TEXT_MIN_COUNT, TextData
from explorer.core.data.tokens import PAD, UNKNOWN, Vocabulary, chosen_words, drop_words, newsgroup_text, normalise

__all__ = [
    "DATASETS", "DIGITS_SPLIT", "DIGITS_SPLIT_SEED", "DIGITS_TEST_SIZE", "PAD", "SPLITS", "TEXT_FILES",
    "TEXT_MIN_COUNT", "UNKNOWN", "Dataset", "DatasetInfo", "ImageData", "TextData", "Vocabulary", "chosen_words",
    "data_root", "dataset_info", "datasets_of", "domain_of", "drop_words", "load_dataset", "newsgroup_text",
    "normalise", "readable_by", "split_indices", "stratified_fraction", "stratified_split", "subset_indices",
]
