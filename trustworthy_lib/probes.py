"""Linear probes on a transformer's layers, with a control task and an intervention.

A *probe* is a small classifier trained to predict a property (here: a review's
sentiment) from a frozen layer's representation (Alain and Bengio, 2016; Belinkov,
2022). High probe accuracy says the layer's vectors make the property *decodable*; it
does not say the model *uses* it. Two checks from the literature are built in:

* a **control task** (Hewitt and Liang, 2019): labels that carry no sentiment but are a
  fixed random function of the words, so a probe can only learn them by memorising word
  identity. *Selectivity* = task accuracy - control accuracy. A probe that is accurate
  on the control too is measuring its own capacity, not the layer;
* an **intervention**: corrupt one layer's output with noise inside the model
  (:func:`noise_intervention`) and see how much the later layers' decodable sentiment
  suffers.

Conventions:

* Hidden states are indexed as ``transformers`` returns them with
  ``output_hidden_states=True``: index 0 is the embedding output and index ``k`` the
  output of transformer layer ``k``; a 6-layer model has indices 0..6.
* :func:`layer_embeddings` returns an array of shape (layers + 1, N, D): every layer for
  every text, each mean-pooled over the text's non-padding tokens ([CLS] and [SEP]
  included, as sentence-transformers pools).
* Labels are integers 0..K-1 (for the reviews: 1 = fresh, 0 = rotten).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from trustworthy_lib._cache import cached_array
from trustworthy_lib._validation import (
    check_class_labels,
    check_features,
    check_positive_int,
    check_same_length,
)
from trustworthy_lib.utils import eval_mode

__all__ = [
    "cached_layer_embeddings",
    "control_task_labels",
    "embeddings_cache_dir",
    "layer_embeddings",
    "mean_pool",
    "noise_intervention",
    "probe_accuracy_by_layer",
    "single_layer_embeddings",
    "train_probe",
    "wilson_interval",
]


# ---------------------------------------------------------------------------
# Embeddings


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str):
        raise ValueError(
            "texts must be a list of strings, not a single string; wrap it: [text]"
        )
    texts = list(texts)
    if not texts:
        raise ValueError("texts is empty; pass at least one string")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise ValueError(
            f"texts must all be strings; item(s) {bad[:5]} are not (e.g. "
            f"{type(texts[bad[0]]).__name__})"
        )
    return texts


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    r"""Average token vectors over the non-padding tokens.

    That is :math:`\sum_t m_t h_t / \sum_t m_t`.

    ``hidden`` is (..., N, T, D) and ``attention_mask`` (N, T) with 1 for real tokens
    and 0 for padding. Returns (..., N, D).
    """
    mask = attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * mask).sum(-2) / mask.sum(-2).clamp_min(1.0)


def _batches(tokenizer, texts: list[str], batch_size: int, max_length: int):
    """Yield ``(positions, encoded)`` batches of texts sorted by length (less padding).

    Sorting by length only changes which texts share a batch; results are put back in
    the original order by the callers.
    """
    order = np.argsort([len(t) for t in texts], kind="stable")
    for i in range(0, len(texts), batch_size):
        idx = order[i : i + batch_size]
        encoded = tokenizer(
            [texts[j] for j in idx],
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
        yield idx, encoded


def _num_hidden_states(model) -> int:
    layers = getattr(getattr(model, "config", None), "num_hidden_layers", None)
    if layers is None:
        raise ValueError(
            f"{type(model).__name__} has no config.num_hidden_layers; pass a "
            "transformers encoder such as a BertModel"
        )
    return int(layers) + 1


@torch.inference_mode()
def layer_embeddings(
    model,
    tokenizer,
    texts,
    batch_size: int = 32,
    max_length: int = 128,
    progress: bool = True,
) -> np.ndarray:
    """Mean-pooled embeddings of every layer, from ONE forward pass per batch.

    The model is called once per batch with ``output_hidden_states=True``, which returns
    all ``layers + 1`` hidden states at once; each is mean-pooled over the non-padding
    tokens (:func:`mean_pool`). The lesson's approach runs the model once per layer
    (:func:`single_layer_embeddings`), which costs ``layers + 1`` times as much for the
    same numbers (see ``benchmarks/probe_layers.py``).

    Texts are batched by length to cut padding, truncated to ``max_length`` tokens, and
    returned in their original order. The model runs in eval mode (no dropout) on its
    own device; a tqdm bar counts the batches.

    Returns
    -------
    np.ndarray
        float32, shape (layers + 1, N, D); ``[0]`` is the embedding layer.
    """
    texts = _check_texts(texts)
    batch_size = check_positive_int(batch_size, "batch_size")
    n_states = _num_hidden_states(model)
    return _pooled_hidden_states(
        model,
        tokenizer,
        texts,
        range(n_states),
        batch_size,
        max_length,
        progress,
        "embedding (all layers, one pass)",
    )


@torch.inference_mode()
def single_layer_embeddings(
    model,
    tokenizer,
    texts,
    layer: int,
    batch_size: int = 32,
    max_length: int = 128,
    progress: bool = True,
) -> np.ndarray:
    """Mean-pooled embeddings of ONE layer, (N, D): the lesson's way, for comparison.

    Each call runs the whole model over every batch and keeps one hidden state, so
    getting all layers this way costs ``layers + 1`` full passes. Use
    :func:`layer_embeddings` instead; this exists to check it and to time the
    difference.
    """
    texts = _check_texts(texts)
    batch_size = check_positive_int(batch_size, "batch_size")
    n_states = _num_hidden_states(model)
    if not isinstance(layer, (int, np.integer)) or not 0 <= layer < n_states:
        raise ValueError(
            f"layer {layer!r} does not exist; this model has hidden states "
            f"0..{n_states - 1}"
        )
    return _pooled_hidden_states(
        model,
        tokenizer,
        texts,
        [int(layer)],
        batch_size,
        max_length,
        progress,
        f"embedding (layer {layer} only)",
    )[0]


def _pooled_hidden_states(
    model, tokenizer, texts, layers, batch_size, max_length, progress, desc
) -> np.ndarray:
    """One forward pass per batch; mean-pool the hidden states listed in ``layers``.

    Returns float32 of shape (len(layers), N, D) in the texts' original order. The model
    runs in eval mode on its own device (its mode is restored); a tqdm bar counts
    batches.
    """
    from tqdm.auto import tqdm

    layers = list(layers)
    n_states = _num_hidden_states(model)
    device = next(model.parameters()).device
    out = None
    with eval_mode(model):
        total = -(-len(texts) // batch_size)
        for idx, enc in tqdm(
            _batches(tokenizer, texts, batch_size, max_length),
            total=total,
            desc=desc,
            disable=not progress,
        ):
            enc = {k: v.to(device) for k, v in enc.items()}
            hidden = model(**enc, output_hidden_states=True).hidden_states
            if len(hidden) != n_states:
                raise ValueError(
                    f"the model returned {len(hidden)} hidden states, expected "
                    f"{n_states}"
                )
            pooled = (
                mean_pool(
                    torch.stack([hidden[i] for i in layers]), enc["attention_mask"]
                )
                .float()
                .cpu()
                .numpy()
            )
            if out is None:
                out = np.empty(
                    (len(layers), len(texts), pooled.shape[-1]), dtype=np.float32
                )
            out[:, idx] = pooled
    return out


# ---------------------------------------------------------------------------
# Intervention


def _hidden_state_modules(model) -> list[nn.Module]:
    """The modules whose outputs are hidden states 0..L: embeddings, then each layer."""
    embeddings = getattr(model, "embeddings", None)
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    if embeddings is None or not isinstance(layers, nn.ModuleList):
        raise ValueError(
            f"{type(model).__name__} does not have the BERT layout (model.embeddings "
            "and model.encoder.layer); noise_intervention supports BERT-style encoders "
            "such as MiniLM"
        )
    return [embeddings, *layers]


@contextlib.contextmanager
def noise_intervention(model, layer: int, scale: float = 1.0, seed: int = 0):
    r"""Inside this ``with`` block, add Gaussian noise to hidden state ``layer``.

    The noise is added inside ``model``.

    Every token vector :math:`h` leaving that layer becomes
    :math:`h + \text{scale} \cdot \sigma(h) \cdot \varepsilon`, with :math:`\sigma(h)`
    the standard deviation of :math:`h` over its D features and
    :math:`\varepsilon \sim N(0, I)`. The noisy vector is what the next layer receives,
    and what ``hidden_states[layer]`` reports. The noise comes from a generator seeded
    with ``seed`` (the global RNG is not touched), so a rerun gives the same noise for
    the same batches.

    ``layer`` follows the hidden-state convention: 0 is the embedding output, ``k`` the
    output of transformer layer ``k``.
    """
    modules = _hidden_state_modules(model)
    if not isinstance(layer, (int, np.integer)) or not 0 <= layer < len(modules):
        raise ValueError(
            f"layer {layer!r} does not exist; this model has hidden states "
            f"0..{len(modules) - 1}"
        )
    if not np.isfinite(scale) or scale < 0:
        raise ValueError(f"scale must be a finite, non-negative number, got {scale!r}")
    generator = torch.Generator().manual_seed(int(seed))

    def add_noise(h: torch.Tensor) -> torch.Tensor:
        eps = torch.randn(h.shape, generator=generator).to(
            device=h.device, dtype=h.dtype
        )
        return h + scale * h.std(-1, keepdim=True) * eps

    def hook(module, args, output):
        if isinstance(output, tuple):
            return (add_noise(output[0]), *output[1:])
        if isinstance(output, torch.Tensor):
            return add_noise(output)
        raise TypeError(f"cannot add noise to a {type(output).__name__} output")

    # prepend=True: run before transformers' own hooks that record hidden_states
    handle = modules[layer].register_forward_hook(hook, prepend=True)
    try:
        yield model
    finally:
        handle.remove()


# ---------------------------------------------------------------------------
# Cache


def _fingerprint_model(model) -> str:
    h = hashlib.sha256(type(model).__name__.encode())
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _fingerprint_tokenizer(tokenizer) -> str:
    vocab = sorted(tokenizer.get_vocab().items())
    payload = json.dumps(
        {
            "class": type(tokenizer).__name__,
            "vocab": vocab,
            "lower": getattr(tokenizer, "do_lower_case", None),
        }
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _fingerprint_texts(texts: list[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode())
        h.update(b"\x00")
    return h.hexdigest()


def embeddings_cache_dir() -> Path:
    """Folder for cached embeddings: ``<cache_dir()>/embeddings``.

    See ``trustworthy_lib.models``.
    """
    from trustworthy_lib.models import cache_dir

    return cache_dir() / "embeddings"


def cached_layer_embeddings(
    model,
    tokenizer,
    texts,
    *,
    batch_size: int = 32,
    max_length: int = 128,
    noise_layer: int | None = None,
    noise_scale: float = 1.0,
    noise_seed: int = 0,
    directory: Path | str | None = None,
    progress: bool = True,
) -> np.ndarray:
    """:func:`layer_embeddings`, cached on disk as a ``.npy`` file (never a pickle).

    The file name is a SHA-256 of the model's weights, the tokenizer's vocabulary, the
    texts, ``max_length`` and the intervention (``noise_layer``, ``noise_scale``,
    ``noise_seed`` and, because the noise is drawn per batch, ``batch_size``; see
    :func:`noise_intervention`), so a different model, data set or
    intervention never reuses stale vectors. A warm call only hashes and reads.
    ``noise_layer=None`` means no intervention.
    """
    texts = _check_texts(texts)
    key = {
        "model": _fingerprint_model(model),
        "tokenizer": _fingerprint_tokenizer(tokenizer),
        "texts": _fingerprint_texts(texts),
        "max_length": int(max_length),
        # the noise is drawn batch by batch, so the batch size changes which noise lands
        # on which text: it belongs in the key of a noisy run
        "noise": None
        if noise_layer is None
        else [int(noise_layer), float(noise_scale), int(noise_seed), int(batch_size)],
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    folder = Path(directory) if directory is not None else embeddings_cache_dir()
    path = folder / f"layers-{digest}.npy"
    n_states = _num_hidden_states(model)

    def compute() -> np.ndarray:
        if noise_layer is None:
            return layer_embeddings(
                model, tokenizer, texts, batch_size, max_length, progress
            )
        with noise_intervention(model, noise_layer, noise_scale, noise_seed):
            return layer_embeddings(
                model, tokenizer, texts, batch_size, max_length, progress
            )

    def valid(emb: np.ndarray) -> bool:
        return emb.ndim == 3 and emb.shape[:2] == (n_states, len(texts))

    return cached_array(path, compute, valid=valid)


# ---------------------------------------------------------------------------
# Probes


def _check_xy(x, y, what: str) -> tuple[np.ndarray, np.ndarray]:
    x = check_features(x, f"{what} features").astype(np.float64)
    y = check_class_labels(y, f"{what} labels")
    check_same_length(**{f"{what} features": x, f"{what} labels": y})
    return x, y


def train_probe(x, y, kind: str = "logistic", seed: int = 0, C: float = 0.01):
    """Fit a probe on frozen features and return it (a scikit-learn pipeline).

    ``kind="logistic"``: standardise, then L2-regularised logistic regression (strength
    ``1/C``): a *linear* probe, :math:`p(y=1 \\mid h) = \\sigma(w^\\top h + b)`. The
    default ``C=0.01`` is a strong penalty: with ~1,000 examples of 384 features a
    weakly regularised probe overfits (5-fold cross-validation on the chapter's training
    reviews preferred 0.003-0.03 over 0.1-1). ``kind="mlp"``: standardise, then a
    one-hidden-layer MLP (256 ReLU units, L2 penalty 1e-2, Adam for at most 300 epochs):
    a more expressive probe. Hewitt and Liang (2019) show that expressive probes also
    learn control tasks, so they are less *selective*.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _check_xy(x, y, "training")
    if len(np.unique(y)) < 2:
        raise ValueError(
            "the training labels hold a single class; a probe needs at least two"
        )
    if kind == "logistic":
        clf = LogisticRegression(C=C, max_iter=2000)
    elif kind == "mlp":
        clf = MLPClassifier(
            hidden_layer_sizes=(256,), alpha=1e-2, max_iter=300, random_state=seed
        )
    else:
        raise ValueError(f"unknown probe kind {kind!r}; use 'logistic' or 'mlp'")
    with (
        warnings.catch_warnings()
    ):  # an MLP that stops at max_iter is still a usable probe
        warnings.simplefilter("ignore", ConvergenceWarning)
        return make_pipeline(StandardScaler(), clf).fit(x, y)


def wilson_interval(correct, total, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    r"""Wilson score interval for a proportion :math:`\hat p = k/n`.

    The default is 95% (z = 1.96).

    .. math::

        \frac{\hat p + \frac{z^2}{2n}
              \pm z\sqrt{\frac{\hat p(1-\hat p)}{n} + \frac{z^2}{4n^2}}}
             {1 + \frac{z^2}{n}}

    Works element-wise on arrays. Unlike the normal approximation it stays inside
    [0, 1].
    """
    k = np.asarray(correct, dtype=np.float64)
    n = np.asarray(total, dtype=np.float64)
    if np.any(n <= 0):
        raise ValueError("total must be positive")
    if np.any((k < 0) | (k > n)):
        raise ValueError("correct must be between 0 and total")
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def control_task_labels(texts, seed: int = 0, n_buckets: int = 2**18) -> np.ndarray:
    r"""Control-task labels after Hewitt and Liang (2019), for whole sentences.

    Every word type :math:`w` (lower-cased, as scikit-learn tokenises) gets a fixed
    random value :math:`v_w \sim N(0, 1)` (through a hash of the word, so the same word
    gets the same value in every call with the same ``seed``). A text's score is the
    mean value of its words, and its label is 1 when the score is above the median score
    of ``texts``:

    .. math::

        \text{control}(s) = \mathbb{1}\big[\tfrac{1}{|s|}\textstyle\sum_{w \in s} v_w
        > \text{median}\big].

    The labels are balanced, carry no sentiment, and are learnable only by telling words
    apart. Compute them once on train and test texts together so both share the median.
    """
    from sklearn.feature_extraction.text import HashingVectorizer

    texts = _check_texts(texts)
    counts = HashingVectorizer(
        n_features=n_buckets, alternate_sign=False, norm=None
    ).transform(texts)
    values = np.random.default_rng(seed).standard_normal(n_buckets)
    n_words = np.asarray(counts.sum(axis=1)).ravel()
    score = (counts @ values) / np.maximum(n_words, 1)
    return (score > np.median(score)).astype(np.int64)


def probe_accuracy_by_layer(
    train_embeddings,
    y_train,
    test_embeddings,
    y_test,
    *,
    control_train=None,
    control_test=None,
    kind: str = "logistic",
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Train one probe per layer; report its test accuracy with a 95% Wilson interval.

    ``train_embeddings`` (L, N_train, D) and ``test_embeddings`` (L, N_test, D) come
    from :func:`layer_embeddings`. If control labels are given (see
    :func:`control_task_labels`), a second probe per layer is trained on them and
    ``selectivity = accuracy - control_accuracy`` is reported (Hewitt and Liang, 2019).

    Returns a DataFrame with one row per layer: ``layer``, ``accuracy``, ``ci_low``,
    ``ci_high``, ``majority_baseline`` (test accuracy of always predicting the training
    set's most common class) and, with a control, ``control_accuracy``,
    ``control_ci_low``, ``control_ci_high``, ``control_majority`` and ``selectivity``.
    """
    from tqdm.auto import tqdm

    train = np.asarray(train_embeddings)
    test = np.asarray(test_embeddings)
    if train.ndim != 3 or test.ndim != 3:
        raise ValueError(
            "embeddings must be 3-D (layers, N, D) as layer_embeddings returns; got "
            f"{train.shape} and {test.shape}"
        )
    if train.shape[0] != test.shape[0] or train.shape[2] != test.shape[2]:
        raise ValueError(
            f"train and test embeddings disagree in layers or width: {train.shape} vs "
            f"{test.shape}"
        )
    _check_xy(train[0], y_train, "training")
    _check_xy(test[0], y_test, "test")
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    tasks = [("", y_train, y_test)]
    if (control_train is None) != (control_test is None):
        raise ValueError("give both control_train and control_test, or neither")
    if control_train is not None:
        _check_xy(train[0], control_train, "control training")
        _check_xy(test[0], control_test, "control test")
        tasks.append(("control_", np.asarray(control_train), np.asarray(control_test)))
    n = len(y_test)
    rows = {"layer": np.arange(train.shape[0])}
    for prefix, ytr, yte in tasks:
        majority = np.bincount(ytr).argmax()
        correct = np.array(
            [
                (
                    train_probe(train[layer], ytr, kind=kind, seed=seed).predict(
                        test[layer]
                    )
                    == yte
                ).sum()
                for layer in tqdm(
                    range(train.shape[0]),
                    desc=f"{prefix or 'task '}probes",
                    leave=False,
                    disable=not progress,
                )
            ]
        )
        low, high = wilson_interval(correct, n)
        rows[f"{prefix}accuracy"] = correct / n
        rows[f"{prefix}ci_low"] = low
        rows[f"{prefix}ci_high"] = high
        rows["majority_baseline" if not prefix else "control_majority"] = np.full(
            len(correct), np.mean(yte == majority)
        )
    table = pd.DataFrame(rows)
    if control_train is not None:
        table["selectivity"] = table["accuracy"] - table["control_accuracy"]
    return table
