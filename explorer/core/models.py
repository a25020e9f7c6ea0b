"""Classifiers as latent-variable models: encoder q(z|x), then a Bayes-rule head p(y|z) (METHOD.md §1).

One interface for every method: ``model(x)`` gives logits for images ``x`` in [0, 1],
``model.embed(x)`` the latent ``z``, ``model.head(z)`` the logits of a latent. Every head exposes
the class-conditional distributions it assumes: :class:`GaussianHead` and :class:`StudentTHead` learn
them, :class:`LinearHead` (ordinary softmax) implies Gaussians. Code downstream (calibration,
attacks, projections, diagnostics) therefore never needs to know which method trained a model.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from explorer.core._io import seeded
from explorer.core.config import TEXT_ENCODERS, ModelConfig
from explorer.core.errors import ArgumentError

LOG_2PI = math.log(2 * math.pi)


def squared_distances(z: Tensor, means: Tensor, log_vars: Tensor) -> Tensor:
    """r²_ik = Σ_j (z_ij − μ_kj)² / σ²_kj for every latent and every class: z (N, d), means (K, d),
    log_vars (K, d) or broadcastable to it → (N, K)."""
    return ((z.unsqueeze(1) - means.unsqueeze(0)).square() * torch.exp(-log_vars)).sum(-1)


def diagonal_gaussian_log_prob(z: Tensor, means: Tensor, log_vars: Tensor) -> Tensor:
    """log N(z; μ_k, diag σ²_k) for every latent and every class.

    Shapes: z (N, d), means (K, d), log_vars (K, d) or broadcastable to it. Returns (N, K):
    −½ Σ_j [(z_j − μ_kj)² / σ²_kj + log σ²_kj + log 2π].
    """
    return -0.5 * (squared_distances(z, means, log_vars) + log_vars.sum(-1) + z.shape[-1] * LOG_2PI)


class Head(nn.Module):
    """Shared behaviour of the last layer: the class-conditional distributions it assumes.

    Subclasses define ``forward(z) -> logits``, ``class_means() (K, d)``, ``class_log_vars() (K, d)``
    and ``log_class_prior() (K,)``; everything else follows from those. The defaults here are those of
    diagonal Gaussians; a Student-t head overrides ``log_prob``, ``sample`` and ``r2_law``, and a
    shared full covariance (:class:`explorer.core.implied.ImpliedGaussians`) ``covariances``,
    ``log_prob`` and ``sample``.
    """

    def r2_law(self):
        """The law of r² = Σ_j (z_j − μ_yj)² / σ²_yj when z follows its class's distribution, as a frozen
        ``scipy.stats`` distribution: χ²_d for Gaussians. The fit check compares the latents with it."""
        from scipy import stats  # here: importing scipy.stats takes half a second

        return stats.chi2(self.class_means().shape[1])

    def covariances(self) -> Tensor:
        """Each class's covariance (or squared scale, for a Student-t) as a matrix: (K, d, d)."""
        return torch.diag_embed(torch.exp(self.class_log_vars()))

    def log_prob(self, z: Tensor) -> Tensor:
        """log p(z | y = k) for every class: (N, d) → (N, K)."""
        return diagonal_gaussian_log_prob(z, self.class_means(), self.class_log_vars())

    def log_marginal(self, z: Tensor) -> Tensor:
        """log p(z) = log Σ_k π_k p(z | k): (N, d) → (N,). An out-of-distribution score."""
        return torch.logsumexp(self.log_prob(z) + self.log_class_prior(), dim=1)

    def sample(self, y: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One draw z ~ p(z | y_i) per label: y (N,) → (N, d). Reparameterised (differentiable)."""
        means, std = self.class_means()[y], torch.exp(0.5 * self.class_log_vars())[y]
        return means + std * self._noise(means, generator)

    def _noise(self, like: Tensor, generator: torch.Generator | None) -> Tensor:
        """Standardised draws shaped like ``like`` (N, d): N(0, I) for Gaussian classes."""
        return torch.randn(like.shape, generator=generator, device=like.device, dtype=like.dtype)


class LinearHead(Head):
    """Ordinary softmax layer, logits = W z + b, read as Bayes' rule over implied Gaussians.

    The layer implies a family of Gaussians, N(μ_y, Σ) for every shared Σ ≻ 0 (METHOD.md §1). Its own
    ``class_means`` and ``class_log_vars`` are the Σ = I convention: with p(z|y) = N(μ_y, I),
    w_y = μ_y and b_y = −½|μ_y|² + log π_y; softmax ignores a vector added to every row of W, so the
    means are the centred rows μ_y = w_y − mean_k w_k and the prior is π ∝ exp(b_y + ½|μ_y|²). That
    member has an arbitrary scale: what to check latents against is the member fitted to them,
    :func:`explorer.core.implied.fit_implied`.
    """

    def __init__(self, latent_dim: int, num_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(latent_dim, num_classes)

    def forward(self, z: Tensor) -> Tensor:
        return self.linear(z)

    def set_class_prior(self, counts: Tensor) -> None:
        """Start the bias at log π so that an untrained model predicts the class frequencies."""
        with torch.no_grad():
            self.linear.bias.copy_(torch.log(counts.float() / counts.sum()))

    def class_means(self) -> Tensor:
        weight = self.linear.weight
        return weight - weight.mean(dim=0, keepdim=True)

    def class_log_vars(self) -> Tensor:
        return torch.zeros_like(self.linear.weight)

    def log_class_prior(self) -> Tensor:
        return torch.log_softmax(self.linear.bias + 0.5 * self.class_means().square().sum(1), dim=0)


class GaussianHead(Head):
    """Gaussian Bayes-rule layer: logits_k = log N(z; μ_k, diag σ²_k) + log π_k (METHOD.md §1, §3).

    The means and log-variances are learnable. ``variance``: ``"diagonal"`` (one diagonal per class),
    ``"shared"`` (one diagonal for all classes: the quadratic terms cancel and the logits are linear
    in z) or ``"fixed"`` (σ² = 1). π is a buffer set to the training-set class frequencies.
    """

    def __init__(self, latent_dim: int, num_classes: int, variance: str = "diagonal",
                 init_distance: float = 4.0) -> None:
        super().__init__()
        # N(0, D²/(2d) I) means are D apart in root-mean-square (σ units) for every latent dimension d.
        scale = init_distance / math.sqrt(2 * latent_dim)
        self.means = nn.Parameter(scale * torch.randn(num_classes, latent_dim))
        rows = {"diagonal": num_classes, "shared": 1, "fixed": 1}[variance]
        log_vars = torch.zeros(rows, latent_dim)
        if variance == "fixed":
            self.register_buffer("log_vars", log_vars)
        else:
            self.log_vars = nn.Parameter(log_vars)
        self.register_buffer("log_prior", torch.full((num_classes,), -math.log(num_classes)))

    def forward(self, z: Tensor) -> Tensor:
        return self.log_prob(z) + self.log_prior

    def set_class_prior(self, counts: Tensor) -> None:
        self.log_prior.copy_(torch.log(counts.float() / counts.sum()))

    def class_means(self) -> Tensor:
        return self.means

    def class_log_vars(self) -> Tensor:
        return self.log_vars.expand_as(self.means)

    def log_class_prior(self) -> Tensor:
        return self.log_prior


class StudentTHead(GaussianHead):
    """Bayes-rule layer over multivariate Student-t classes: logits_k = log t_ν(z; μ_k, diag σ²_k) + log π_k.

    log t_ν(z; μ, diag σ²) = log Γ((ν + d)/2) − log Γ(ν/2) − (d/2) log(νπ) − ½ Σ_j log σ²_j
    − ((ν + d)/2) log(1 + r²/ν), with r² = Σ_j (z_j − μ_j)² / σ²_j. The same parameters as
    :class:`GaussianHead` (``log_vars`` holds the log squared scale; the variance is σ²·ν/(ν − 2) for
    ν > 2), heavier tails: a latent far from every mean loses less probability. As ν → ∞ it becomes
    the Gaussian head. If z follows it, r²/d ~ F(d, ν).
    """

    def __init__(self, latent_dim: int, num_classes: int, variance: str = "diagonal",
                 init_distance: float = 4.0, nu: int = 5) -> None:
        super().__init__(latent_dim, num_classes, variance, init_distance)
        self.nu = int(nu)

    def log_prob(self, z: Tensor) -> Tensor:
        log_vars = self.class_log_vars()
        nu, d = float(self.nu), z.shape[-1]
        r2 = squared_distances(z, self.class_means(), log_vars)
        const = math.lgamma((nu + d) / 2) - math.lgamma(nu / 2) - d / 2 * math.log(nu * math.pi)
        return const - 0.5 * log_vars.sum(-1) - (nu + d) / 2 * torch.log1p(r2 / nu)

    def _noise(self, like: Tensor, generator: torch.Generator | None) -> Tensor:
        """ε·√(ν / g), ε ~ N(0, I), g ~ χ²_ν as a sum of ν squared normals (so ``generator`` alone sets
        every draw): a draw is μ + σ·ε·√(ν / g), a Gaussian scale mixture."""
        eps = super()._noise(like, generator)
        g = torch.randn((len(like), self.nu), generator=generator, device=like.device,
                        dtype=like.dtype).square().sum(1, keepdim=True)
        return eps * torch.sqrt(self.nu / g)

    def r2_law(self):
        """r² ~ d·F(d, ν) when z follows its class's Student-t."""
        d = self.class_means().shape[1]
        from scipy import stats

        return stats.f(d, self.nu, scale=d)


class MLPEncoder(nn.Sequential):
    """Flatten → two ReLU layers of width ``hidden`` → linear map to the latent (digits, MNIST)."""

    def __init__(self, config: ModelConfig) -> None:
        c, h, w = config.input_shape
        super().__init__(
            nn.Flatten(),
            nn.Linear(c * h * w, config.hidden), nn.ReLU(),
            nn.Linear(config.hidden, config.hidden), nn.ReLU(),
            nn.Linear(config.hidden, config.latent_dim),
        )


class CNNEncoder(nn.Sequential):
    """Two conv–BN–pool–ReLU blocks (32, 64 channels), a ReLU layer, a linear map to the latent.

    Small on purpose: an MNIST epoch takes under a minute on two CPU cores. Pooling before the ReLU
    computes the same function as after it (ReLU is monotone) on a quarter of the values.
    """

    def __init__(self, config: ModelConfig) -> None:
        c, h, w = config.input_shape
        super().__init__(
            nn.Conv2d(c, 32, 3, padding=1), nn.BatchNorm2d(32), nn.MaxPool2d(2), nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.MaxPool2d(2), nn.ReLU(inplace=True),
            nn.Flatten(),
            nn.Linear(64 * (h // 4) * (w // 4), config.hidden), nn.ReLU(),
            nn.Linear(config.hidden, config.latent_dim),
        )


def resnet18_encoder(config: ModelConfig) -> nn.Module:
    """torchvision's ResNet-18 with the usual 32×32 stem (3×3 stride-1 conv, no max-pool), fc → z."""
    from torchvision.models import resnet18

    net = resnet18(num_classes=config.latent_dim)
    net.conv1 = nn.Conv2d(config.input_shape[0], 64, 3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    return net


class BagEncoder(nn.Module):
    """A document's TF-IDF vector over its words and hashed word bigrams, embedded (fastText-style,
    Joulin et al. 2017), then a ReLU layer of width ``hidden`` and a linear map to the latent.

    x is (N, L) int64 token ids, 0 = padding (:mod:`explorer.core.data.tokens`). A bigram (a, b) of two words
    (padding excluded) takes bucket (a·P + b) mod B, an id past the vocabulary's. Each id t of a
    document weighs (1 + log tf_t)·idf_t, the vector scaled to unit length (scikit-learn's
    ``TfidfVectorizer(sublinear_tf=True)``); the embedding is that vector times the embedding matrix.
    The idf comes from the training documents (:meth:`fit_weights`, a buffer saved with the weights).
    Chosen on 20 Newsgroups' validation split over the mean of the embeddings and its idf-weighted
    mean: see ``DatasetInfo.defaults`` of the text sets.
    """

    PRIME = 1_000_003

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.vocab_size < 3:
            raise ArgumentError("the bag encoder needs its vocabulary's size (vocab_size), set from the data")
        self.vocab_size, self.buckets = config.vocab_size, config.ngram_buckets
        n = config.vocab_size + config.ngram_buckets
        self.embedding = nn.EmbeddingBag(n, config.embedding_dim, mode="sum")
        weights = torch.ones(n)
        weights[0] = 0.0  # padding weighs nothing
        self.register_buffer("token_weights", weights)
        self.layers = nn.Sequential(nn.Linear(config.embedding_dim, config.hidden), nn.ReLU(),
                                    nn.Linear(config.hidden, config.latent_dim))

    def tokens(self, x: Tensor) -> Tensor:
        """Word ids followed by bigram ids, (N, 2L − 1); 0 wherever padding is involved."""
        if x.dtype != torch.int64 or x.dim() != 2:
            raise ArgumentError(f"the bag encoder reads (N, L) int64 token ids, got {x.dtype} {tuple(x.shape)}")
        if not self.buckets or x.shape[1] < 2:
            return x
        a, b = x[:, :-1], x[:, 1:]
        bigrams = (a * self.PRIME + b) % self.buckets + self.vocab_size
        return torch.cat([x, torch.where((a > 0) & (b > 0), bigrams, 0)], dim=1)

    def fit_weights(self, x: Tensor) -> None:
        """Set the idf of every id from training documents x: log((1 + N) / (1 + df)) + 1, scikit-learn's
        smooth idf (an id no document holds gets the largest)."""
        tokens = self.tokens(x.cpu())
        df = torch.zeros(len(self.token_weights), dtype=torch.float64)
        for start in range(0, len(tokens), 512):
            rows = tokens[start: start + 512]
            seen = torch.zeros((len(rows), len(df)), dtype=torch.bool)
            seen.scatter_(1, rows, True)
            df += seen.sum(0)
        with torch.no_grad():
            self.token_weights.copy_(torch.log((1 + len(x)) / (1 + df)) + 1)
            self.token_weights[0] = 0.0

    def forward(self, x: Tensor) -> Tensor:
        tokens = self.tokens(x)
        n, device = len(self.token_weights), tokens.device
        rows = torch.arange(len(tokens), device=device).unsqueeze(1).expand_as(tokens)
        keys, tf = torch.unique(rows * n + tokens, return_counts=True)  # sorted, so document by document
        row, token = keys // n, keys % n
        weight = (1 + torch.log(tf.to(self.token_weights.dtype))) * self.token_weights[token]
        norm = torch.zeros(len(tokens), device=device, dtype=weight.dtype).index_add_(0, row, weight.square())
        weight = weight / norm.sqrt().clamp_min(1e-12)[row]  # an empty document: the zero vector
        offsets = torch.searchsorted(row, torch.arange(len(tokens), device=device))
        return self.layers(self.embedding(token, offsets, per_sample_weights=weight))


ENCODER_BUILDERS = {"mlp": MLPEncoder, "cnn": CNNEncoder, "resnet18": resnet18_encoder, "bag": BagEncoder}
CONV_ENCODERS = {"cnn", "resnet18"}


class Classifier(nn.Module):
    """Encoder + head. ``forward(x)`` → logits (N, K); ``embed(x)`` → z (N, d); x is (N, C, H, W) in
    [0, 1], or for a text encoder (N, L) int64 token ids."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.text = config.encoder in TEXT_ENCODERS  # token ids: nothing to normalise
        self.vocabulary = None
        """A text model's :class:`~explorer.core.data.tokens.Vocabulary`: the words its ids index."""
        if not self.text:
            shape = (1, -1, 1, 1)
            self.register_buffer("input_mean", torch.tensor(config.mean).view(shape))
            self.register_buffer("input_std", torch.tensor(config.std).view(shape))
        self.encoder = ENCODER_BUILDERS[config.encoder](config)
        # Convolutions run faster on the CPU in NHWC ("channels last") layout; `python
        # benchmarks/bench_core.py` times the 10 000 MNIST test images through the CNN as it runs here.
        self.channels_last = config.encoder in CONV_ENCODERS
        if self.channels_last:
            self.encoder.to(memory_format=torch.channels_last)
        if config.method == "softmax":
            self.head: Head = LinearHead(config.latent_dim, config.num_classes)
        else:
            self.head = GaussianHead(config.latent_dim, config.num_classes, config.variance,
                                     config.prior_init_distance) if config.prior == "gaussian" else \
                StudentTHead(config.latent_dim, config.num_classes, config.variance, config.prior_init_distance,
                             config.nu)

    def embed(self, x: Tensor) -> Tensor:
        if self.text:
            return self.encoder(x)
        x = (x - self.input_mean) / self.input_std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.encoder(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.embed(x))


def build_model(config: ModelConfig, seed: int | None = None) -> Classifier:
    """A freshly initialised model; ``seed`` makes the initialisation reproducible."""
    if seed is None:
        return Classifier(config)
    with seeded(seed):
        return Classifier(config)
