import numpy as np
import pytest
import torch
from scipy.optimize import brentq
from transformers import BertConfig, BertModel

from trustworthy_lib.pretrained import load_minilm_tokenizer
from trustworthy_lib.probes import (
    cached_layer_embeddings,
    control_task_labels,
    layer_embeddings,
    mean_pool,
    noise_intervention,
    probe_accuracy_by_layer,
    single_layer_embeddings,
    train_probe,
    wilson_interval,
)

TEXTS = [
    "a gripping, beautifully acted film",
    "dull.",
    "the plot goes nowhere and the jokes fall flat, which is a shame given the cast",
    "fun",
    "an uneven but often charming comedy about growing up",
    "I wanted to like it more than I did",
    "",
    "not bad at all",
    "one of the year's best",
    "overlong, overwrought and over here",
]


@pytest.fixture(scope="module")
def tokenizer():
    return load_minilm_tokenizer()  # the packaged tokenizer, read offline


@pytest.fixture(scope="module")
def tiny_bert(tokenizer):
    """A randomly initialised 3-layer BERT (no download), hidden size 32."""
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=48,
        max_position_embeddings=128,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return BertModel(config).eval()


class _ForwardCounter:
    def __init__(self, model):
        self.calls = 0
        self.handle = model.register_forward_hook(self)

    def __call__(self, module, args, output):
        self.calls += 1


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    torch.testing.assert_close(mean_pool(hidden, mask), torch.tensor([[2.0, 3.0]]))
    # a leading layer axis is carried through
    torch.testing.assert_close(
        mean_pool(torch.stack([hidden, 2 * hidden]), mask),
        torch.tensor([[[2.0, 3.0]], [[4.0, 6.0]]]),
    )


def test_layer_embeddings_one_pass_per_batch_equals_per_layer(
    tiny_bert, tokenizer, capsys
):
    counter = _ForwardCounter(tiny_bert)
    try:
        emb = layer_embeddings(tiny_bert, tokenizer, TEXTS, batch_size=4)
        assert counter.calls == 3  # ceil(10 / 4) batches, one forward call each
        assert (
            "embedding (all layers, one pass)" in capsys.readouterr().err
        )  # the tqdm bar
        assert emb.shape == (4, len(TEXTS), 32) and emb.dtype == np.float32
        counter.calls = 0
        per_layer = [
            single_layer_embeddings(
                tiny_bert, tokenizer, TEXTS, layer, batch_size=4, progress=False
            )
            for layer in range(4)
        ]
        assert counter.calls == 4 * 3  # the lesson's way: a full pass per layer
    finally:
        counter.handle.remove()
    np.testing.assert_array_equal(emb, np.stack(per_layer))
    # each text on its own (no padding at all) gives the same vectors, in original order
    for i in [0, 1, 6, 9]:
        enc = tokenizer([TEXTS[i]], return_tensors="pt")
        with torch.no_grad():
            hidden = tiny_bert(**enc, output_hidden_states=True).hidden_states
        alone = torch.stack([h[0].mean(0) for h in hidden]).numpy()
        np.testing.assert_allclose(emb[:, i], alone, atol=1e-5)


def test_layer_embeddings_bad_inputs(tiny_bert, tokenizer):
    with pytest.raises(ValueError, match="texts is empty"):
        layer_embeddings(tiny_bert, tokenizer, [])
    with pytest.raises(ValueError, match="not a single string"):
        layer_embeddings(tiny_bert, tokenizer, "just one review")
    with pytest.raises(ValueError, match=r"item\(s\) \[1\] are not"):
        layer_embeddings(tiny_bert, tokenizer, ["fine", 3])
    with pytest.raises(ValueError, match="batch_size must be a positive whole number"):
        layer_embeddings(tiny_bert, tokenizer, TEXTS, batch_size=0)
    with pytest.raises(
        ValueError, match=r"layer 4 does not exist; this model has hidden states 0..3"
    ):
        single_layer_embeddings(tiny_bert, tokenizer, TEXTS, layer=4)
    with pytest.raises(ValueError, match="num_hidden_layers"):
        layer_embeddings(torch.nn.Linear(2, 2), tokenizer, TEXTS)


def test_noise_intervention(tiny_bert, tokenizer):
    enc = tokenizer(TEXTS[:3], padding=True, return_tensors="pt")

    def states():
        with torch.no_grad():
            return tiny_bert(**enc, output_hidden_states=True).hidden_states

    clean = states()
    with noise_intervention(tiny_bert, layer=2, scale=0.5, seed=0):
        noisy = states()
    with noise_intervention(tiny_bert, layer=2, scale=0.5, seed=0):
        again = states()
    for k in range(2):
        torch.testing.assert_close(
            noisy[k], clean[k]
        )  # layers before the intervention are untouched
    for k in range(2, 4):
        assert not torch.allclose(
            noisy[k], clean[k]
        )  # the noisy layer and everything after it change
        torch.testing.assert_close(noisy[k], again[k])  # same seed, same noise
    # the noise has the requested size: scale x the per-token standard deviation
    diff = noisy[2] - clean[2]
    ratio = (diff.std(-1) / clean[2].std(-1)).mean()
    assert 0.4 < float(ratio) < 0.6
    for a, b in zip(states(), clean, strict=True):  # the hook is gone after the block
        torch.testing.assert_close(a, b)
    with noise_intervention(tiny_bert, layer=0, scale=0.0):
        for a, b in zip(states(), clean, strict=True):
            torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="hidden states 0..3"):
        with noise_intervention(tiny_bert, layer=7):
            pass
    with pytest.raises(ValueError, match="non-negative"):
        with noise_intervention(tiny_bert, layer=1, scale=-1):
            pass
    with pytest.raises(ValueError, match="BERT layout"):
        with noise_intervention(torch.nn.Linear(2, 2), layer=0):
            pass


def test_cached_layer_embeddings(tiny_bert, tokenizer, tmp_path):
    first = cached_layer_embeddings(
        tiny_bert, tokenizer, TEXTS, batch_size=4, directory=tmp_path, progress=False
    )
    files = list(tmp_path.glob("*.npy"))
    assert len(files) == 1
    np.testing.assert_array_equal(np.load(files[0], allow_pickle=False), first)
    np.testing.assert_array_equal(
        first,
        layer_embeddings(tiny_bert, tokenizer, TEXTS, batch_size=4, progress=False),
    )
    counter = _ForwardCounter(tiny_bert)
    try:
        warm = cached_layer_embeddings(
            tiny_bert, tokenizer, TEXTS, directory=tmp_path, progress=False
        )
        assert counter.calls == 0  # read from disk
        np.testing.assert_array_equal(warm, first)
        # other texts, or an intervention, get their own files
        cached_layer_embeddings(
            tiny_bert, tokenizer, TEXTS[:5], directory=tmp_path, progress=False
        )
        noisy = cached_layer_embeddings(
            tiny_bert,
            tokenizer,
            TEXTS,
            noise_layer=1,
            noise_scale=1.0,
            directory=tmp_path,
            progress=False,
        )
        assert counter.calls == 2
    finally:
        counter.handle.remove()
    assert len(list(tmp_path.glob("*.npy"))) == 3
    np.testing.assert_array_equal(noisy[:1], first[:1])
    assert not np.allclose(noisy[1:], first[1:])


def _two_layer_data(n=400, seed=0):
    """Layer 0 is pure noise; layer 1 carries the label along one direction."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.int64)
    emb = rng.normal(size=(2, n, 8))
    emb[1, :, 0] += 4 * (2 * y - 1)
    return emb, y


def test_train_probe_learns_and_checks_input():
    emb, y = _two_layer_data()
    for kind in ("logistic", "mlp"):
        probe = train_probe(emb[1, :200], y[:200], kind=kind)
        assert (probe.predict(emb[1, 200:]) == y[200:]).mean() > 0.97
    with pytest.raises(ValueError, match="unknown probe kind 'svm'"):
        train_probe(emb[1], y, kind="svm")
    with pytest.raises(ValueError, match="single class"):
        train_probe(emb[1], np.zeros(len(y), dtype=np.int64))
    with pytest.raises(ValueError, match="mismatched lengths"):
        train_probe(emb[1], y[:-1])
    bad = emb[1].copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        train_probe(bad, y)
    with pytest.raises(ValueError, match=r"2-D array of shape \(N, D\)"):
        train_probe(emb, y)
    # integral floats are class ids (the package's one rule); fractions are not
    train_probe(emb[1], y.astype(float))
    with pytest.raises(ValueError, match="integer class indices"):
        train_probe(emb[1], y + 0.5)


def test_wilson_interval_inverts_the_score_test():
    low, high = wilson_interval(np.array([8, 0, 50]), np.array([10, 20, 100]))
    for k, n, lo, hi in zip([8, 0, 50], [10, 20, 100], low, high, strict=True):
        p_hat = k / n

        def score(p, p_hat=p_hat, n=n):  # the Wilson bounds: score statistic = 1.96
            return (p_hat - p) ** 2 - 1.96**2 * p * (1 - p) / n

        expected_low = 0.0 if k == 0 else brentq(score, 1e-12, p_hat)
        expected_high = brentq(score, p_hat + 1e-12, 1 - 1e-12)
        assert lo == pytest.approx(expected_low, abs=1e-9) and hi == pytest.approx(
            expected_high, abs=1e-9
        )
    assert wilson_interval(8, 10)[0] == pytest.approx(
        0.4902, abs=1e-4
    )  # the textbook value
    with pytest.raises(ValueError, match="total must be positive"):
        wilson_interval(1, 0)
    with pytest.raises(ValueError, match="between 0 and total"):
        wilson_interval(11, 10)


def test_control_task_labels():
    texts = [f"word{i} common word{i * 7 % 13}" for i in range(40)]
    labels = control_task_labels(texts, seed=0)
    assert labels.shape == (40,) and labels.dtype == np.int64
    assert labels.mean() == 0.5  # split at the median
    np.testing.assert_array_equal(labels, control_task_labels(texts, seed=0))
    assert not np.array_equal(labels, control_task_labels(texts, seed=1))
    # a label depends only on which words a text holds, not on their order or case
    reordered = [" ".join(reversed(t.upper().split())) for t in texts]
    np.testing.assert_array_equal(control_task_labels(reordered, seed=0), labels)
    with pytest.raises(ValueError, match="texts is empty"):
        control_task_labels([])


def test_probe_accuracy_by_layer():
    emb, y = _two_layer_data()
    control = np.random.default_rng(5).integers(0, 2, size=len(y))
    table = probe_accuracy_by_layer(
        emb[:, :200],
        y[:200],
        emb[:, 200:],
        y[200:],
        control_train=control[:200],
        control_test=control[200:],
        progress=False,
    )
    assert list(table["layer"]) == [0, 1]
    assert table.loc[1, "accuracy"] > 0.97 and table.loc[0, "accuracy"] < 0.65
    assert (table["ci_low"] <= table["accuracy"]).all() and (
        table["accuracy"] <= table["ci_high"]
    ).all()
    assert (table["majority_baseline"] == 0.5).all()
    # random control labels cannot be predicted from either layer
    assert (table["control_accuracy"] < 0.65).all()
    np.testing.assert_allclose(
        table["selectivity"], table["accuracy"] - table["control_accuracy"]
    )
    # the accuracies are those of train_probe's predictions
    probe = train_probe(emb[1, :200], y[:200])
    assert table.loc[1, "accuracy"] == (probe.predict(emb[1, 200:]) == y[200:]).mean()
    plain = probe_accuracy_by_layer(
        emb[:, :200], y[:200], emb[:, 200:], y[200:], progress=False
    )
    assert "selectivity" not in plain and np.array_equal(
        plain["accuracy"], table["accuracy"]
    )


def test_probe_accuracy_by_layer_bad_inputs():
    emb, y = _two_layer_data()
    with pytest.raises(ValueError, match=r"3-D \(layers, N, D\)"):
        probe_accuracy_by_layer(emb[1], y, emb[1], y)
    with pytest.raises(ValueError, match="disagree in layers or width"):
        probe_accuracy_by_layer(emb, y, emb[:1], y)
    with pytest.raises(ValueError, match="mismatched lengths"):
        probe_accuracy_by_layer(emb, y[:10], emb, y)
    with pytest.raises(ValueError, match="both control_train and control_test"):
        probe_accuracy_by_layer(emb, y, emb, y, control_train=y)


def test_cached_noisy_embeddings_depend_on_batch_size(tiny_bert, tokenizer, tmp_path):
    # the injected noise depends on the batch shapes, so batch_size must be in the key
    kwargs = dict(noise_layer=1, noise_scale=1.0, directory=tmp_path, progress=False)
    by_4 = cached_layer_embeddings(tiny_bert, tokenizer, TEXTS, batch_size=4, **kwargs)
    by_3 = cached_layer_embeddings(tiny_bert, tokenizer, TEXTS, batch_size=3, **kwargs)
    with noise_intervention(tiny_bert, 1, 1.0, 0):
        fresh = layer_embeddings(
            tiny_bert, tokenizer, TEXTS, batch_size=3, progress=False
        )
    np.testing.assert_allclose(by_3, fresh, rtol=1e-5, atol=1e-6)
    assert not np.allclose(by_3, by_4)


def test_a_corrupt_embedding_cache_is_reported_and_recomputed(
    tiny_bert, tokenizer, tmp_path
):
    from trustworthy_lib._cache import CacheWarning

    first = cached_layer_embeddings(
        tiny_bert, tokenizer, TEXTS, directory=tmp_path, progress=False
    )
    path = next(tmp_path.glob("*.npy"))
    path.write_bytes(path.read_bytes()[:100])  # a partial file
    with pytest.warns(CacheWarning, match="corrupt or stale"):
        again = cached_layer_embeddings(
            tiny_bert, tokenizer, TEXTS, directory=tmp_path, progress=False
        )
    np.testing.assert_array_equal(again, first)
    np.testing.assert_array_equal(np.load(path, allow_pickle=False), first)
