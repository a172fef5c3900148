"""Saving, loading and sharing trained models without running anyone's code.

A trained PyTorch model is two things: its *architecture* (the Python class and the
arguments it was built with) and its *weights* (a ``state_dict`` of named tensors).
This module keeps them apart on disk, the way the Hugging Face Hub does:

* ``config.json`` -- the arguments that rebuild the architecture, the weights file's
  name and format, and its SHA-256, so a changed or truncated file is caught on load;
* ``model.safetensors`` (default) or ``model.pt`` -- the weights alone.

The convention, stated once: **weights are loaded as tensors, never unpickled.**
``.safetensors`` files are read with :mod:`safetensors`, which stores raw tensor bytes
and cannot execute code. ``.pt`` files are read with
``torch.load(..., weights_only=True)``, whose restricted unpickler accepts tensors and
plain containers and refuses anything that would call a function (see the pickle demo in
the model-release chapter). Plain ``pickle.load`` or ``torch.load(weights_only=False)``
on a file you did not make yourself runs whatever code the file's author chose.

:class:`HubSmallCNN` adds ``huggingface_hub``'s
:class:`~huggingface_hub.PyTorchModelHubMixin` to the workbook's
:class:`~trustworthy_lib.models.SmallCNN`, giving it ``save_pretrained``,
``from_pretrained`` and ``push_to_hub``. :func:`push_to_hub_if_token` uploads only when
a token is configured and otherwise says, in one line, that it skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from trustworthy_lib._cache import atomic_path, sha256_file, write_text_atomic
from trustworthy_lib.models import SmallCNN

__all__ = [
    "CONFIG_NAME",
    "WEIGHTS_NAMES",
    "HubSmallCNN",
    "load_model",
    "load_weights",
    "push_to_hub_if_token",
    "save_model",
]


CONFIG_NAME = "config.json"
WEIGHTS_NAMES = {"safetensors": "model.safetensors", "pt": "model.pt"}
_SUFFIX_FORMAT = {
    ".safetensors": "safetensors",
    ".pt": "pt",
    ".pth": "pt",
    ".bin": "pt",
}


def _check_json_config(config) -> dict:
    if not isinstance(config, dict):
        raise ValueError(
            "config must be a dict of the arguments that rebuild the model, got "
            f"{type(config).__name__}"
        )
    try:
        json.dumps(config)
    except (TypeError, ValueError) as err:
        raise ValueError(
            "config must hold only JSON values (numbers, strings, lists, dicts, "
            f"None): {err}. Convert tuples of numpy values with int()/float()/list() "
            "first."
        ) from None
    return config


def save_model(
    model: nn.Module,
    directory: str | Path,
    config: dict,
    *,
    format: str = "safetensors",
) -> Path:
    """Save ``model``'s weights and the JSON ``config`` that rebuilds it.

    Both go into ``directory``.

    Writes ``config.json`` and ``model.safetensors`` (``format="safetensors"``, the
    default) or ``model.pt`` (``format="pt"``: ``torch.save`` of the ``state_dict``,
    which is a pickle of tensors). ``config.json`` records ``config``, ``weights`` (the
    file name), ``format``, ``sha256`` (the digest of the weights file) and ``torch``
    (the version). Tensors are moved to the CPU and made contiguous first, so a model
    trained on CUDA loads anywhere. Returns the path of the weights file.

    Raises ValueError when ``config`` is not a JSON-serialisable dict or ``format`` is
    unknown.
    """
    if format not in WEIGHTS_NAMES:
        raise ValueError(
            f"unknown format {format!r}; use 'safetensors' (recommended) or 'pt'"
        )
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    config = _check_json_config(config)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    weights = directory / WEIGHTS_NAMES[format]
    with atomic_path(weights) as tmp:
        if format == "safetensors":
            from safetensors.torch import save_file

            save_file(state, str(tmp), metadata={"format": "pt"})
        else:
            torch.save(state, tmp)
    record = {
        "config": config,
        "weights": weights.name,
        "format": format,
        "sha256": sha256_file(weights),
        "torch": torch.__version__.split("+")[0],
    }
    write_text_atomic(
        directory / CONFIG_NAME, json.dumps(record, indent=2, sort_keys=True) + "\n"
    )
    return weights


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a ``state_dict`` from ``path`` without executing code from the file.

    ``.safetensors`` is read with :func:`safetensors.torch.load_file`; ``.pt``, ``.pth``
    and ``.bin`` with ``torch.load(path, map_location="cpu", weights_only=True)``, which
    raises :class:`pickle.UnpicklingError` on a pickle that would call a function. Any
    other suffix raises ValueError: this function never falls back to plain unpickling.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    fmt = _SUFFIX_FORMAT.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"cannot tell how to read {path.name!r} safely: expected a .safetensors "
            "file, or a .pt/.pth/.bin file made with torch.save(state_dict)"
        )
    if fmt == "safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise ValueError(
            f"{path.name} does not hold a state_dict (a dict of tensors); got "
            f"{type(state).__name__}"
        )
    return state


def load_model(
    directory: str | Path, build: Callable[..., nn.Module], *, device=None
) -> tuple[nn.Module, dict]:
    """Rebuild a model saved by :func:`save_model` and load its weights.

    ``build(**config)`` makes the untrained model (for the workbook's CNN,
    ``build=SmallCNN``). The weights file's SHA-256 is checked against ``config.json``
    before it is read, and the ``state_dict`` must match the model exactly
    (``strict=True``: no missing or unexpected tensors). Returns ``(model, config)``
    with the model in eval mode on ``device`` (default:
    :func:`~trustworthy_lib.get_device`).
    """
    from trustworthy_lib.utils import get_device

    directory = Path(directory)
    record_path = directory / CONFIG_NAME
    if not record_path.is_file():
        raise FileNotFoundError(
            f"{record_path} is missing; save the model with save_model() first"
        )
    record = json.loads(record_path.read_text())
    missing = [k for k in ("config", "weights", "sha256") if k not in record]
    if missing:
        raise ValueError(
            f"{record_path} lacks {missing}; it was not written by save_model()"
        )
    name = record["weights"]
    if (
        not isinstance(name, str)
        or name in ("", ".", "..")
        or Path(name).name != name
        or "\\" in name
        or name == CONFIG_NAME
    ):
        raise ValueError(
            f"{record_path} names the weights file {name!r}, which is not a plain file "
            "name in that folder; a config.json may only point at a file next to it. "
            "Do not load this model: re-save it with save_model()"
        )
    weights = directory / name
    if weights.is_symlink():
        raise ValueError(
            f"{weights} is a symbolic link; the weights must be a plain file in "
            f"{directory}"
        )
    if not weights.is_file():
        raise FileNotFoundError(
            f"{record_path} names the weights file {weights.name}, which is missing"
        )
    digest = sha256_file(weights)
    if digest != record["sha256"]:
        raise ValueError(
            f"{weights.name} has SHA-256 {digest}, but config.json expects "
            f"{record['sha256']}: the file was changed or truncated after it was "
            "saved; do not use it"
        )
    model = build(**record["config"])
    model.load_state_dict(load_weights(weights), strict=True)
    device = torch.device(device) if device is not None else get_device()
    return model.to(device).eval(), record["config"]


class HubSmallCNN(
    SmallCNN,
    PyTorchModelHubMixin,
    library_name="pytorch",
    license="mit",
    tags=["image-classification", "fashion-mnist", "trustworthy-ai-workbook"],
    pipeline_tag="image-classification",
):
    """The workbook's :class:`~trustworthy_lib.models.SmallCNN` with the Hub mixin.

    The mixin is that of the Hugging Face Hub.

    ``save_pretrained(folder)`` writes ``model.safetensors``, ``config.json`` (the
    ``__init__`` arguments ``num_classes``, ``dropout`` and ``hidden``) and a
    ``README.md`` model card; ``HubSmallCNN.from_pretrained(folder)`` rebuilds the model
    from them. A local folder is read without any network access. Pass ``strict=True``
    to ``from_pretrained`` so that a weights file that does not match the architecture
    is an error rather than a silently half-loaded model (the mixin's default is
    ``strict=False``).
    """

    @classmethod
    def from_small_cnn(cls, model: SmallCNN) -> HubSmallCNN:
        """Copy a trained :class:`SmallCNN` into a HubSmallCNN on the CPU.

        Sizes and weights are the same.
        """
        if not isinstance(model, SmallCNN):
            raise ValueError(f"expected a SmallCNN, got {type(model).__name__}")
        hidden = model.head[1].in_features
        dropout = model.fc[0].p
        hub = cls(num_classes=model.num_classes, dropout=dropout, hidden=hidden)
        hub.load_state_dict(
            {k: v.detach().cpu() for k, v in model.state_dict().items()}, strict=True
        )
        return hub.eval()


def push_to_hub_if_token(
    model, repo_id: str, *, token: str | None = None, private: bool = True, **kwargs
):
    """Upload ``model`` to the Hugging Face Hub as ``repo_id``, if a token is set.

    The token is ``token`` or the environment variable ``HF_TOKEN``. Without one, or
    with ``HF_HUB_OFFLINE=1``, nothing is sent: a one-line message says why and the
    function returns ``None``; the same happens while ``repo_id`` still starts with the
    placeholder ``your-username/``. With a token, it calls
    ``model.push_to_hub(repo_id, token=token, private=private, **kwargs)`` and returns
    its result (the commit URL). Repositories are private by default: make one public on
    purpose, after reading its model card.
    """
    if not isinstance(repo_id, str) or "/" not in repo_id.strip("/"):
        raise ValueError(
            f"repo_id must look like 'your-username/model-name', got {repo_id!r}"
        )
    if not hasattr(model, "push_to_hub"):
        raise ValueError(
            f"{type(model).__name__} has no push_to_hub(); wrap it first, e.g. "
            "HubSmallCNN.from_small_cnn(model)"
        )
    if repo_id.startswith("your-username/"):
        print(
            f"Skipping push_to_hub({repo_id!r}): replace 'your-username' with your "
            "user name."
        )
        print("Nothing was uploaded.")
        return None
    token = token or os.environ.get("HF_TOKEN") or None
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in (
        "1",
        "true",
        "yes",
        "on",
    ):
        print(f"Skipping push_to_hub({repo_id!r}): HF_HUB_OFFLINE is set.")
        print("Nothing was uploaded.")
        return None
    if not token:
        print(f"Skipping push_to_hub({repo_id!r}): no Hugging Face token found.")
        print("Nothing was uploaded. To upload, create a write token at")
        print(
            "https://huggingface.co/settings/tokens and set the environment variable "
            "HF_TOKEN."
        )
        return None
    return model.push_to_hub(repo_id, token=token, private=private, **kwargs)
