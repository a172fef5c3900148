"""Grad-CAM, an occlusion map, and the model-randomisation sanity check.

Conventions, held throughout this module:

* A *map* is a float32 NumPy array of shape (H, W) at the input image's size (or
  (N, H, W) for a batch), larger where the method says the evidence for the target class
  lies. :func:`gradcam` maps are scaled to [0, 1] per image; :func:`occlusion_map` keeps
  its unit (a drop in the target class's softmax probability).
* ``target_class`` is a class id (an index into the model's logits). ``None`` means the
  class the model predicts.
* ``target_layer`` is a module of the model, or its dotted name from
  ``model.named_modules()`` (for example ``"layer4.1.conv2"`` or ``"_conv_head"``).
  ``None`` means the last ``nn.Conv2d`` registered in the model.

References: Selvaraju et al. (2017), *Grad-CAM: Visual explanations from deep networks
via gradient-based localization*; Chattopadhay et al. (2018), *Grad-CAM++*; Zeiler and
Fergus (2014), *Visualizing and understanding convolutional networks* (occlusion);
Adebayo et al. (2018), *Sanity checks for saliency maps*.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from trustworthy_lib.utils import eval_mode

__all__ = [
    "find_last_conv",
    "grad_cam_plus_plus",
    "gradcam",
    "occlusion_map",
    "overlay",
    "randomize_top_layers",
    "rank_correlation",
    "resolve_layer",
]


def find_last_conv(model: nn.Module) -> tuple[str, nn.Module]:
    """Return ``(name, module)`` of the last ``nn.Conv2d`` registered in ``model``.

    For torchvision-style CNNs this is the last convolution before global pooling
    (``layer4.1.conv2`` in a resnet18, ``_conv_head`` in EfficientNet-Lite0).
    """
    last = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            last = (name, module)
    if last is None:
        raise ValueError(
            f"{type(model).__name__} has no nn.Conv2d layer, so Grad-CAM has no "
            "feature maps to use; pass target_layer= explicitly (a module whose output "
            "is (N, C, h, w))"
        )
    return last


def resolve_layer(model: nn.Module, target_layer) -> tuple[str, nn.Module]:
    """Return ``(name, module)`` for ``target_layer``.

    ``target_layer`` is a module, a dotted name, or ``None``.
    """
    if target_layer is None:
        return find_last_conv(model)
    if isinstance(target_layer, str):
        modules = dict(model.named_modules())
        if target_layer not in modules:
            convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)][
                -3:
            ]
            raise ValueError(
                f"the model has no layer named {target_layer!r}; use a name from "
                "model.named_modules(), for example one of the last convolutions: "
                f"{', '.join(convs) or '(none)'}"
            )
        return target_layer, modules[target_layer]
    if isinstance(target_layer, nn.Module):
        for name, module in model.named_modules():
            if module is target_layer:
                return name, module
        raise ValueError(
            f"target_layer ({type(target_layer).__name__}) is not a layer of this "
            "model; pass a module taken from this very model (after copy.deepcopy, "
            "take it from the copy) or its name"
        )
    raise TypeError(
        "target_layer must be an nn.Module, a layer name or None, got "
        f"{type(target_layer).__name__}"
    )


def _as_batch(input_tensor) -> tuple[torch.Tensor, bool]:
    if not isinstance(input_tensor, torch.Tensor):
        raise TypeError(
            f"input_tensor must be a torch.Tensor, got {type(input_tensor).__name__}"
        )
    single = input_tensor.dim() == 3
    x = input_tensor.unsqueeze(0) if single else input_tensor
    if x.dim() != 4 or x.shape[0] == 0:
        raise ValueError(
            "expected an image tensor of shape (C, H, W) or (N, C, H, W), got "
            f"{tuple(input_tensor.shape)}"
        )
    if not torch.isfinite(x).all():
        raise ValueError("input_tensor contains NaN or infinite values")
    return x, single


def _target_ids(target_class, logits: torch.Tensor) -> torch.Tensor:
    n, num_classes = logits.shape
    if target_class is None:
        return logits.argmax(1)
    ids = torch.as_tensor(np.asarray(target_class), dtype=torch.long).reshape(-1)
    if ids.numel() == 1:
        ids = ids.expand(n)
    if ids.numel() != n:
        raise ValueError(
            f"got {ids.numel()} target classes for {n} images; give one per image or a "
            "single id"
        )
    bad = ids[(ids < 0) | (ids >= num_classes)]
    if bad.numel():
        raise ValueError(
            f"target_class {bad.tolist()} is out of range: this model has "
            f"{num_classes} classes, so ids run from 0 to {num_classes - 1}"
        )
    return ids.to(logits.device)


def _minmax(maps: torch.Tensor) -> torch.Tensor:
    """Scale each map in a (N, H, W) stack to [0, 1]; a constant map becomes zeros."""
    flat = maps.flatten(1)
    low = flat.min(1).values.view(-1, 1, 1)
    span = flat.max(1).values.view(-1, 1, 1) - low
    return torch.where(
        span > 0, (maps - low) / span.clamp_min(1e-30), torch.zeros_like(maps)
    )


def gradcam(
    model: nn.Module, input_tensor: torch.Tensor, target_class=None, target_layer=None
) -> np.ndarray:
    r"""Grad-CAM map of ``target_class`` at ``target_layer``, upsampled to the input.

    With feature maps :math:`A^k` (channel :math:`k`) of the target layer and the class
    score :math:`y^c` (the logit, before softmax) (Selvaraju et al., 2017):

    .. math::

        \alpha_k^c = \frac{1}{hw}\sum_{i,j} \frac{\partial y^c}{\partial A^k_{ij}},
        \qquad
        L^c = \mathrm{ReLU}\Big(\sum_k \alpha_k^c A^k\Big).

    :math:`L^c` (h x w, e.g. 7 x 7) is upsampled bilinearly to the input's H x W and
    min-max scaled to [0, 1] per image (an all-zero map stays zero). This matches
    pytorch-grad-cam's ``GradCAM`` for the same layer and class.

    Parameters
    ----------
    model:
        Any CNN mapping (N, C, H, W) images to (N, num_classes) logits. It is run in
        eval mode (its mode is restored afterwards); its parameters' ``.grad`` are left
        untouched.
    input_tensor:
        One preprocessed image (C, H, W) or (1, C, H, W), or a batch (N, C, H, W).
    target_class:
        A class id, one id per image, or ``None`` for the predicted class.
    target_layer:
        A module of ``model``, its dotted name, or ``None`` for the last ``nn.Conv2d``.

    Returns
    -------
    np.ndarray
        float32 (H, W) for a single image, (N, H, W) for a batch of N > 1, values
        in [0, 1].
    """
    x, single = _as_batch(input_tensor)
    _, layer = resolve_layer(model, target_layer)
    device = next(model.parameters()).device
    x = (
        x.to(device).detach().requires_grad_(True)
    )  # keeps a graph even if the weights are frozen
    store = {}

    def hook(module, args, output):
        store["activation"] = output

    handle = layer.register_forward_hook(hook)
    try:
        with eval_mode(model), torch.enable_grad():
            logits = model(x)
            if logits.dim() != 2:
                raise ValueError(
                    "the model must return (N, num_classes) logits, got shape "
                    f"{tuple(logits.shape)}"
                )
            if "activation" not in store:
                raise ValueError(
                    "the target layer did not run during the forward pass; choose a "
                    "layer on the path to the logits"
                )
            acts = store["activation"]
            if not isinstance(acts, torch.Tensor) or acts.dim() != 4:
                shape = (
                    tuple(acts.shape)
                    if isinstance(acts, torch.Tensor)
                    else type(acts).__name__
                )
                raise ValueError(
                    "the target layer must output (N, C, h, w) feature maps, got "
                    f"{shape}"
                )
            ids = _target_ids(target_class, logits)
            score = logits.gather(1, ids.view(-1, 1)).sum()
            (grads,) = torch.autograd.grad(score, acts)
    finally:
        handle.remove()
    with torch.no_grad():
        weights = grads.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * acts).sum(1, keepdim=True))
        cam = F.interpolate(
            cam, size=x.shape[-2:], mode="bilinear", align_corners=False
        )[:, 0]
        cam = _minmax(cam).float().cpu().numpy()
    return cam[0] if single or len(cam) == 1 else cam


def grad_cam_plus_plus(
    model: nn.Module, input_tensor: torch.Tensor, target_class=None, target_layer=None
) -> np.ndarray:
    r"""Grad-CAM++ (Chattopadhay et al., 2018) by pytorch-grad-cam.

    It is computed by pytorch-grad-cam's ``GradCAMPlusPlus``.

    Grad-CAM++ replaces Grad-CAM's plain average of gradients by a weighted one, so that
    several separate instances of a class can all light up:

    .. math::

        \alpha_{ij}^{kc} = \frac{(\partial y^c/\partial A^k_{ij})^2}
        {2(\partial y^c/\partial A^k_{ij})^2
        + \sum_{a,b} A^k_{ab} (\partial y^c/\partial A^k_{ij})^3}, \qquad
        w_k^c = \sum_{i,j} \alpha_{ij}^{kc}\,
        \mathrm{ReLU}\Big(\frac{\partial y^c}{\partial A^k_{ij}}\Big).

    Same arguments, defaults and output as :func:`gradcam` (one image or a batch, maps
    in [0, 1] at the input's size), so the two can be compared like for like. The
    parameters' ``.grad`` are reset afterwards; the model is left in eval mode.
    """
    from pytorch_grad_cam import GradCAMPlusPlus
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    x, single = _as_batch(input_tensor)
    _, layer = resolve_layer(model, target_layer)
    device = next(model.parameters()).device
    x = x.to(device)
    with torch.no_grad():
        logits = model.eval()(x)
    ids = _target_ids(target_class, logits).tolist()
    had_grad = [p.grad is not None for p in model.parameters()]
    try:
        with GradCAMPlusPlus(model=model, target_layers=[layer]) as cam:
            maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(c) for c in ids])
    finally:
        for p, had in zip(model.parameters(), had_grad, strict=True):
            if not had:
                p.grad = None
    maps = np.asarray(maps, dtype=np.float32)
    return maps[0] if single or len(maps) == 1 else maps


@torch.no_grad()
def occlusion_map(
    model: nn.Module,
    input_tensor: torch.Tensor,
    target_class=None,
    patch_size: int = 32,
    stride: int = 16,
    baseline: float = 0.0,
    batch_size: int = 64,
    progress: bool = True,
) -> np.ndarray:
    r"""Occlusion sensitivity (Zeiler and Fergus, 2014).

    How much hiding each region hurts the class.

    A ``patch_size`` square, slid with ``stride`` (edges included), is filled with
    ``baseline`` (a value in the model's input space: 0 is mid-grey after a
    mean-0.5/std-0.5 normalisation). For each patch :math:`P`,

    .. math:: \Delta_P = p_c(x) - p_c(x \text{ with } P \text{ occluded}),

    with :math:`p_c` the softmax probability of the target class. A pixel's value is the
    mean :math:`\Delta_P` over the patches that cover it. It is black-box: it needs only
    forward passes, run in batches of ``batch_size`` occluded copies.

    Returns a float32 (H, W) map in probability units; it can be negative where hiding a
    region *raises* the class probability.
    """
    x, _ = _as_batch(input_tensor)
    if x.shape[0] != 1:
        raise ValueError(f"occlusion_map takes one image, got a batch of {x.shape[0]}")
    height, width = x.shape[-2:]
    if not 1 <= patch_size <= min(height, width):
        raise ValueError(
            f"patch_size must be between 1 and the image size {min(height, width)}, "
            f"got {patch_size}"
        )
    if stride < 1:
        raise ValueError(f"stride must be a positive number of pixels, got {stride}")
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    with eval_mode(model):
        x = x.to(device)
        probs = model(x).softmax(1)
        c = int(_target_ids(target_class, probs)[0])

        def starts(size):
            s = list(range(0, size - patch_size + 1, stride))
            return s if s[-1] == size - patch_size else s + [size - patch_size]

        ys, xs = np.meshgrid(starts(height), starts(width), indexing="ij")
        rows = torch.arange(height, device=device).view(1, -1, 1)
        cols = torch.arange(width, device=device).view(1, 1, -1)
        top = torch.as_tensor(ys.ravel(), device=device).view(-1, 1, 1)
        left = torch.as_tensor(xs.ravel(), device=device).view(-1, 1, 1)
        masks = (
            (rows >= top)
            & (rows < top + patch_size)
            & (cols >= left)
            & (cols < left + patch_size)
        ).float()
        drops = []
        for i in tqdm(
            range(0, len(masks), batch_size),
            desc="occlusion",
            leave=False,
            disable=not progress,
        ):
            m = masks[i : i + batch_size].unsqueeze(1)
            occluded = x * (1 - m) + baseline * m
            drops.append(probs[0, c] - model(occluded).softmax(1)[:, c])
        drops = torch.cat(drops)
        heat = torch.einsum("p,phw->hw", drops, masks) / masks.sum(0)
    return heat.float().cpu().numpy()


def overlay(image, cam, alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """Blend a [0, 1] map over an RGB image.

    The blend is ``(1 - alpha) * image + alpha * colormap(cam)``.

    ``image`` is (H, W, 3), uint8 or float in [0, 1]; ``cam`` is (H, W) in [0, 1] (as
    :func:`gradcam` returns). Returns a float (H, W, 3) array in [0, 1] for
    ``plt.imshow``.
    """
    from matplotlib import colormaps

    image = np.asarray(image)
    cam = np.asarray(cam, dtype=np.float64)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be RGB with shape (H, W, 3), got {image.shape}")
    if cam.shape != image.shape[:2]:
        raise ValueError(
            f"the map's shape {cam.shape} does not match the image's "
            f"{image.shape[:2]}; compute the map on the same (cropped) image, e.g. "
            "overlay(crop_image(img), gradcam(model, preprocess_image(img)))"
        )
    if not np.isfinite(cam).all() or cam.min() < 0 or cam.max() > 1:
        raise ValueError(
            "cam must hold finite values in [0, 1]; rescale it first (gradcam already "
            "does)"
        )
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if image.dtype == np.uint8:
        image = image / 255.0
    elif not np.isfinite(image).all() or image.min() < 0 or image.max() > 1:
        raise ValueError("a float image must hold values in [0, 1]")
    heat = colormaps[cmap](cam)[..., :3]
    return (1 - alpha) * image + alpha * heat


def randomize_top_layers(
    model: nn.Module, n_layers: int, seed: int = 0
) -> tuple[nn.Module, list[str]]:
    """Cascading model randomisation (Adebayo et al., 2018) of the top ``n_layers``.

    Returns a deep copy of ``model`` (the original is untouched) in which the last
    ``n_layers`` layers that own parameters (in registration order, i.e. from the logits
    downwards) are re-initialised with their own ``reset_parameters()``, under
    ``torch.manual_seed(seed)`` without changing the global RNG. Batch-norm layers get
    fresh statistics too. Also returns the names of the re-initialised layers, top
    first.

    If a saliency map barely changes once the layers that produced the prediction are
    random, the map does not depend on what the model learned: it fails the sanity
    check.
    """
    layers = [
        (n, m)
        for n, m in model.named_modules()
        if any(True for _ in m.parameters(recurse=False))
    ]
    if not 0 <= n_layers <= len(layers):
        raise ValueError(
            f"n_layers must be between 0 and {len(layers)} (the layers with weights), "
            f"got {n_layers}"
        )
    clone = copy.deepcopy(model)
    modules = dict(clone.named_modules())
    names = [n for n, _ in layers[::-1][:n_layers]]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for name in names:
            module = modules[name]
            if not hasattr(module, "reset_parameters"):
                raise ValueError(
                    f"layer {name!r} ({type(module).__name__}) has no "
                    "reset_parameters() to re-initialise it"
                )
            module.reset_parameters()
    return clone, names


def rank_correlation(map_a, map_b) -> float:
    """Spearman rank correlation between two maps of the same shape.

    1 means the same ranking of pixels.

    Adebayo et al. (2018) compare a map before and after randomisation this way: a map
    that survives randomisation with a high rank correlation is insensitive to the
    model. Returns NaN if either map is constant.
    """
    from scipy.stats import spearmanr

    a, b = np.asarray(map_a, dtype=np.float64), np.asarray(map_b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"the maps have different shapes {a.shape} and {b.shape}")
    if a.size < 2:
        raise ValueError("the maps need at least two pixels")
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a.ravel(), b.ravel()).statistic)
