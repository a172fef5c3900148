import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T

from trustworthy_lib.data import load_image
from trustworthy_lib.pretrained import (
    crop_image,
    efficientnet_lite0_weights_path,
    imagenet_class_id,
    imagenet_classes,
    load_efficientnet_lite0,
    load_minilm,
    minilm_path,
    preprocess_image,
    preprocess_pair,
)


def test_imagenet_classes():
    classes = imagenet_classes()
    assert len(classes) == 1000 and len(set(classes)) >= 998
    assert (classes[0], classes[243], classes[251], classes[285]) == (
        "tench",
        "bull mastiff",
        "dalmatian",
        "Egyptian cat",
    )
    assert imagenet_class_id("Egyptian Cat") == 285
    with pytest.raises(ValueError, match="Did you mean one of: .*bull mastiff"):
        imagenet_class_id("mastiff")
    with pytest.raises(ValueError, match="not an ImageNet class name"):
        imagenet_class_id("unicorn")


def test_preprocess_image_matches_torchvision():
    img = load_image("cat")
    x = preprocess_image(img)
    expected = T.Compose(
        [
            T.Resize(256),
            T.CenterCrop(224),
            T.ToTensor(),
            T.Normalize([0.5] * 3, [0.5] * 3),
        ]
    )(Image.fromarray(img))
    assert x.shape == (1, 3, 224, 224) and x.dtype == torch.float32
    torch.testing.assert_close(x[0], expected)
    assert -1 <= x.min() and x.max() <= 1
    np.testing.assert_allclose(
        crop_image(img), (expected.permute(1, 2, 0).numpy() + 1) / 2, atol=1e-6
    )
    # float input in [0, 1] gives the same tensor
    torch.testing.assert_close(preprocess_image(img / 255.0), x)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        preprocess_image(img[..., 0])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        preprocess_image(img.astype(np.float32))


def test_preprocess_pair_puts_both_halves_side_by_side():
    cat, dog = load_image("cat"), load_image("bull_mastiff")
    x, picture = preprocess_pair(cat, dog)
    assert x.shape == (1, 3, 224, 224) and picture.shape == (224, 224, 3)
    torch.testing.assert_close(
        x[0], torch.from_numpy((picture - 0.5) / 0.5).permute(2, 0, 1)
    )

    # each half is the middle 112-pixel strip of the 224 x 224 centre crop of each photo
    def strip(img):
        full = T.CenterCrop(224)(T.Resize(224)(Image.fromarray(img)))
        return np.asarray(full, dtype=np.float32)[:, 56:168] / 255

    np.testing.assert_allclose(picture[:, :112], strip(cat), atol=1e-6)
    np.testing.assert_allclose(picture[:, 112:], strip(dog), atol=1e-6)


@pytest.fixture(scope="module")
def efficientnet():
    return load_efficientnet_lite0(device="cpu")


def test_efficientnet_loads_safely_and_classifies_the_photos(efficientnet, monkeypatch):
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    load_efficientnet_lite0(device="cpu")
    assert calls == [
        True
    ]  # the state dict is read with weights_only=True, never unpickled freely
    assert efficientnet_lite0_weights_path().stat().st_size > 10_000_000
    photos = torch.cat(
        [preprocess_image(load_image(n)) for n in ("cat", "bull_mastiff", "dalmatian")]
    )
    with torch.no_grad():
        logits = efficientnet(photos)
    assert logits.shape == (3, 1000)
    assert logits.argmax(1).tolist() == [285, 243, 251]
    assert not efficientnet.training
    # Grad-CAM's layer gives 7 x 7 maps for a 224 x 224 input
    store = {}
    handle = efficientnet._conv_head.register_forward_hook(
        lambda m, a, o: store.setdefault("out", o)
    )
    with torch.no_grad():
        efficientnet(photos[:1])
    handle.remove()
    assert store["out"].shape[-2:] == (7, 7)


def test_minilm_loads_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert (minilm_path() / "model.safetensors").is_file()
    model, tokenizer = load_minilm(device="cpu")
    assert type(model).__name__ == "BertModel" and not model.training
    assert model.config.num_hidden_layers == 6 and model.config.hidden_size == 384
    sentences = ["a wonderful film", "a truly great movie", "my tax return is due"]
    enc = tokenizer(sentences, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc, output_hidden_states=True).hidden_states
    assert len(hidden) == 7 and hidden[-1].shape[-1] == 384
    # the sentence-transformers property: mean-pooled vectors of paraphrases are closer
    mask = enc["attention_mask"].unsqueeze(-1).float()
    pooled = torch.nn.functional.normalize(
        (hidden[-1] * mask).sum(1) / mask.sum(1), dim=1
    )
    similarity = pooled @ pooled.T
    assert similarity[0, 1] > similarity[0, 2] + 0.2
