import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from torch import nn
from torchvision.models import resnet18

from trustworthy_lib.gradcam import (
    find_last_conv,
    grad_cam_plus_plus,
    gradcam,
    occlusion_map,
    overlay,
    randomize_top_layers,
    rank_correlation,
    resolve_layer,
)


@pytest.fixture(scope="module")
def net():
    """A randomly initialised torchvision resnet18 (no download), 10 classes."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = resnet18(weights=None, num_classes=10)
    return model.eval()


@pytest.fixture(scope="module")
def images():
    return torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def _reference(model, layer, x, classes):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    with GradCAM(model=model, target_layers=[layer]) as cam:
        return cam(input_tensor=x, targets=[ClassifierOutputTarget(c) for c in classes])


@pytest.mark.parametrize("layer_name", ["layer4.1.conv2", "layer4", "layer4.0.conv2"])
def test_gradcam_agrees_with_pytorch_grad_cam(net, images, layer_name):
    layer = dict(net.named_modules())[layer_name]
    ours = gradcam(net, images, target_class=[3, 7], target_layer=layer)
    theirs = _reference(net, layer, images, [3, 7])
    assert ours.shape == theirs.shape == (2, 64, 64)
    for a, b in zip(ours, theirs, strict=True):
        assert a.std() > 0.05  # a real map, not an all-zero one
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_gradcam_defaults_last_conv_and_predicted_class(net, images):
    name, layer = find_last_conv(net)
    assert name == "layer4.1.conv2" and layer is net.layer4[1].conv2
    x = images[:1]
    predicted = int(net(x).argmax())
    default = gradcam(net, x)
    np.testing.assert_array_equal(
        default, gradcam(net, x, target_class=predicted, target_layer="layer4.1.conv2")
    )
    np.testing.assert_allclose(
        default, _reference(net, layer, x, [predicted])[0], atol=1e-4
    )
    # a single image gives one (H, W) map in [0, 1] at the input's size
    assert default.shape == (64, 64) and default.dtype == np.float32
    assert default.min() == 0.0 and default.max() == pytest.approx(1.0)
    assert gradcam(net, x[0]).shape == (64, 64)
    # another class gives another map
    assert not np.allclose(default, gradcam(net, x, target_class=(predicted + 1) % 10))


def test_gradcam_leaves_model_alone(net, images):
    net.zero_grad(set_to_none=True)  # pytorch-grad-cam, used above, leaves .grad set
    net.train()
    gradcam(net, images[:1])
    assert net.training  # mode restored
    net.eval()
    assert all(p.grad is None for p in net.parameters())


def test_gradcam_bad_inputs(net, images):
    with pytest.raises(ValueError, match="out of range: this model has 10 classes"):
        gradcam(net, images[:1], target_class=10)
    with pytest.raises(ValueError, match="out of range"):
        gradcam(net, images[:1], target_class=-1)
    with pytest.raises(ValueError, match="2 target classes for 1 images"):
        gradcam(net, images[:1], target_class=[1, 2])
    other = resnet18(weights=None, num_classes=10)
    with pytest.raises(ValueError, match="not a layer of this model"):
        gradcam(net, images[:1], target_layer=other.layer4)
    with pytest.raises(ValueError, match="no layer named 'layer9'"):
        gradcam(net, images[:1], target_layer="layer9")
    with pytest.raises(TypeError, match="target_layer must be"):
        resolve_layer(net, 3)
    with pytest.raises(ValueError, match=r"\(C, H, W\) or \(N, C, H, W\)"):
        gradcam(net, torch.zeros(64, 64))
    bad = images[:1].clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        gradcam(net, bad)
    with pytest.raises(ValueError, match=r"must output \(N, C, h, w\)"):
        gradcam(net, images[:1], target_layer="fc")
    with pytest.raises(ValueError, match="no nn.Conv2d"):
        find_last_conv(nn.Sequential(nn.Flatten(), nn.Linear(12, 2)))


def test_grad_cam_plus_plus_wraps_pytorch_grad_cam(net, images):
    from pytorch_grad_cam import GradCAMPlusPlus
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    net.zero_grad(set_to_none=True)
    x = images[:1]
    predicted = int(net(x).argmax())
    ours = grad_cam_plus_plus(net, x)  # defaults: last conv, predicted class
    with GradCAMPlusPlus(model=net, target_layers=[net.layer4[1].conv2]) as cam:
        theirs = cam(input_tensor=x, targets=[ClassifierOutputTarget(predicted)])[0]
    np.testing.assert_array_equal(ours, theirs)
    assert ours.shape == (64, 64) and ours.min() >= 0 and ours.max() <= 1
    net.zero_grad(set_to_none=True)
    assert grad_cam_plus_plus(
        net, images, target_class=[1, 2], target_layer="layer4"
    ).shape == (2, 64, 64)
    assert all(p.grad is None for p in net.parameters())  # no gradients left behind
    # it weighs gradients differently, so it is not Grad-CAM
    assert not np.allclose(
        grad_cam_plus_plus(net, x, 4, "layer4"), gradcam(net, x, 4, "layer4"), atol=1e-3
    )
    with pytest.raises(ValueError, match="out of range"):
        grad_cam_plus_plus(net, x, target_class=99)
    with pytest.raises(ValueError, match="no layer named"):
        grad_cam_plus_plus(net, x, target_layer="head")


class _CornerModel(nn.Module):
    """Class 1's logit is 10 x the mean of the top-left 8 x 8 pixels; class 0's is 0."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(10.0))

    def forward(self, x):
        evidence = self.scale * x[:, :, :8, :8].mean(dim=(1, 2, 3))
        return torch.stack([torch.zeros_like(evidence), evidence], 1)


def test_occlusion_map_finds_the_evidence_and_matches_a_loop():
    model = _CornerModel()
    x = torch.ones(1, 3, 24, 24)
    heat = occlusion_map(
        model, x, target_class=1, patch_size=8, stride=8, progress=False
    )
    assert heat.shape == (24, 24)
    assert (
        (heat[:8, :8] > 0.1).all()
        and np.allclose(heat[8:, :], 0)
        and np.allclose(heat[:, 8:], 0)
    )
    # agrees with the readable per-patch loop (overlapping patches, non-tiling stride)
    x = torch.rand(1, 3, 20, 20, generator=torch.Generator().manual_seed(0))
    heat = occlusion_map(
        model,
        x,
        target_class=1,
        patch_size=6,
        stride=5,
        baseline=-1.0,
        batch_size=3,
        progress=False,
    )
    p = model(x).softmax(1)[0, 1]
    total, count = torch.zeros(20, 20), torch.zeros(20, 20)
    for top in [0, 5, 10, 14]:
        for left in [0, 5, 10, 14]:
            occluded = x.clone()
            occluded[..., top : top + 6, left : left + 6] = -1.0
            total[top : top + 6, left : left + 6] += (
                p - model(occluded).softmax(1)[0, 1]
            )
            count[top : top + 6, left : left + 6] += 1
    np.testing.assert_allclose(heat, (total / count).detach().numpy(), atol=1e-6)


def test_occlusion_map_bad_inputs(net, images):
    with pytest.raises(ValueError, match="takes one image"):
        occlusion_map(net, images, progress=False)
    with pytest.raises(ValueError, match="patch_size"):
        occlusion_map(net, images[:1], patch_size=100, progress=False)
    with pytest.raises(ValueError, match="stride"):
        occlusion_map(net, images[:1], stride=0, progress=False)
    with pytest.raises(ValueError, match="out of range"):
        occlusion_map(net, images[:1], target_class=42, progress=False)


def test_overlay():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(5, 6, 3), dtype=np.uint8)
    cam = rng.uniform(size=(5, 6))
    np.testing.assert_allclose(overlay(image, cam, alpha=0.0), image / 255.0)
    from matplotlib import colormaps

    np.testing.assert_allclose(
        overlay(image, cam, alpha=1.0, cmap="viridis"),
        colormaps["viridis"](cam)[..., :3],
    )
    blended = overlay(image / 255.0, cam, alpha=0.3)
    assert blended.shape == (5, 6, 3) and blended.min() >= 0 and blended.max() <= 1
    with pytest.raises(ValueError, match="does not match the image"):
        overlay(image, cam[:4])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        overlay(image, cam * 2)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        overlay(image[..., 0], cam)
    with pytest.raises(ValueError, match="alpha"):
        overlay(image, cam, alpha=1.5)


def test_randomize_top_layers(net):
    import copy

    net = copy.deepcopy(net)
    with (
        torch.no_grad()
    ):  # make every weight differ from its initial value, as training would
        for tensor in [
            *net.parameters(),
            *(b for b in net.buffers() if b.is_floating_point()),
        ]:
            tensor.add_(0.1)
    clone, names = randomize_top_layers(net, 3, seed=0)
    assert names == ["fc", "layer4.1.bn2", "layer4.1.conv2"]
    before, after = net.state_dict(), clone.state_dict()
    for key in before:
        changed = not torch.equal(before[key], after[key])
        is_top = any(key.startswith(n + ".") for n in names)
        if key.endswith("num_batches_tracked"):
            continue
        assert changed == is_top, key
    # the same seed gives the same weights; the original is untouched
    again, _ = randomize_top_layers(net, 3, seed=0)
    assert all(
        torch.equal(a, b)
        for a, b in zip(
            clone.state_dict().values(), again.state_dict().values(), strict=True
        )
    )
    same, none = randomize_top_layers(net, 0)
    assert none == [] and all(
        torch.equal(a, b)
        for a, b in zip(same.state_dict().values(), before.values(), strict=True)
    )
    with pytest.raises(ValueError, match="n_layers must be between 0 and"):
        randomize_top_layers(net, 1000)


def test_rank_correlation():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(size=(6, 7)), rng.uniform(size=(6, 7))
    assert rank_correlation(a, b) == pytest.approx(
        spearmanr(a.ravel(), b.ravel()).statistic
    )
    assert rank_correlation(a, a**3) == pytest.approx(1.0)
    assert rank_correlation(a, -a) == pytest.approx(-1.0)
    assert np.isnan(rank_correlation(a, np.ones_like(a)))
    with pytest.raises(ValueError, match="different shapes"):
        rank_correlation(a, b[:5])


def test_grad_cam_plus_plus_matches_the_formula_computed_by_hand():
    # A net whose feature maps have the input's size, so no resizing is involved and the
    # map can be compared pixel by pixel with the paper's weights written out here.
    torch.manual_seed(0)
    features = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU())
    # a linear read-out of every pixel, so the gradient differs from pixel to pixel
    head = nn.Sequential(nn.Flatten(), nn.Linear(6 * 8 * 8, 3))
    model = nn.Sequential(features, head).eval()
    x = torch.randn(1, 3, 8, 8)
    target = 2

    acts = features(x).detach().requires_grad_(True)
    score = head(acts)[0, target]
    (g,) = torch.autograd.grad(score, acts)
    a, g = acts.detach().double(), g.double()
    # alpha_ij^k = g^2 / (2 g^2 + sum_ab A_ab^k g^3), 0 where the gradient is 0; the
    # 1e-6 in the denominator is pytorch-grad-cam's stabiliser (the paper has none)
    denom = 2 * g**2 + a.sum(dim=(2, 3), keepdim=True) * g**3 + 1e-6
    alpha = torch.where(g != 0, g**2 / denom, 0.0)
    w = (alpha * torch.relu(g)).sum(dim=(2, 3), keepdim=True)  # w_k
    cam = torch.relu((w * a).sum(dim=1))[0]
    cam = (cam - cam.min()) / (cam.max() - cam.min())
    assert (g.abs() > 1e-2).float().mean() > 0.5  # gradients far above the stabiliser

    ours = grad_cam_plus_plus(model, x, target_class=target, target_layer=features[1])
    assert ours.shape == (8, 8)
    np.testing.assert_allclose(ours, cam.numpy(), atol=1e-5)
    # and it is not plain Grad-CAM on this input
    assert not np.allclose(ours, gradcam(model, x, target, features[1]), atol=1e-3)
