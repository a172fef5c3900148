"""Benchmark: the workbook's SmallCNN against the lesson's layout of the same network.

Run it from the repository root:

    .venv/bin/python benchmarks/cnn_layout.py [--threads 1 2] [--steps 30]

The lesson's network is ``conv -> ReLU -> maxpool`` twice, with PyTorch's default
(contiguous, NCHW) weights. ``trustworthy_lib.models.SmallCNN`` computes the same
function (ReLU is monotone, so pooling first gives the same values) with max-pooling
before the ReLU and its convolution weights stored channels-last. With the same
weights, side by side in one process and for each thread count, it times:

1. a training step (forward, cross-entropy, backward, Adam) on a batch of 64 images,
   the chapters' batch size;
2. a forward pass without gradients on 2,048 images, the batch of ``predict_logits``.

Each timing is the median of ``--repeats`` runs of ``--steps`` steps; the contenders'
runs are interleaved, so a change in machine load hits both alike. The target is a
speed-up of at least 1.3x for the training step on one thread (what each chapter gets
when the book builds two at a time). It checks that the two networks give the same
logits and gradients, and exits non-zero if they do not.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from trustworthy_lib.models import SmallCNN


class LessonCNN(nn.Module):
    """The lesson's layer order and weight layout, with SmallCNN's parameter names."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.fc = nn.Sequential(nn.Dropout(0.25), nn.Linear(3136, 128), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.25), nn.Linear(128, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.fc(self.conv(x)))


def mismatch(ours: nn.Module, lesson: nn.Module, x, y) -> float:
    """Largest absolute difference of the logits and of every parameter's gradient."""
    ours.eval(), lesson.eval()
    worst = (ours(x) - lesson(x)).abs().max().item()
    for net in (ours, lesson):
        net.zero_grad()
        F.cross_entropy(net(x), y).backward()
    grads = dict(lesson.named_parameters())
    for name, p in ours.named_parameters():
        worst = max(worst, (p.grad - grads[name].grad).abs().max().item())
    return worst


def train_steps(model: nn.Module, x, y, steps: int) -> float:
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    start = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return (time.perf_counter() - start) / steps


@torch.no_grad()
def predict_steps(model: nn.Module, x, steps: int) -> float:
    model.eval()
    start = time.perf_counter()
    for _ in range(steps):
        model(x)
    return (time.perf_counter() - start) / steps


def compare(threads: int, steps: int, repeats: int) -> float:
    """Print the medians and ratios for one thread count; return the training ratio."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    batch, labels = torch.rand(64, 1, 28, 28), torch.randint(0, 4, (64,))
    big = torch.rand(2048, 1, 28, 28)
    keys = ("train lesson", "train ours", "pred lesson", "pred ours")
    times = {key: [] for key in keys}
    for _ in range(repeats):
        ours = SmallCNN(num_classes=4)
        lesson = LessonCNN(4)
        lesson.load_state_dict(ours.state_dict())
        for net in (ours, lesson):  # warm-up: oneDNN picks its kernels on first use
            train_steps(net, batch, labels, 2)
        times["train lesson"].append(train_steps(lesson, batch, labels, steps))
        times["train ours"].append(train_steps(ours, batch, labels, steps))
        times["pred lesson"].append(predict_steps(lesson, big, max(1, steps // 10)))
        times["pred ours"].append(predict_steps(ours, big, max(1, steps // 10)))
    med = {key: statistics.median(v) for key, v in times.items()}
    train_ratio = med["train lesson"] / med["train ours"]
    print(
        f"{threads} thread(s): training step (64 images) lesson "
        f"{med['train lesson'] * 1e3:.1f} ms, SmallCNN {med['train ours'] * 1e3:.1f} ms"
        f" -> {train_ratio:.2f}x; forward (2,048 images) lesson "
        f"{med['pred lesson'] * 1e3:.0f} ms, SmallCNN {med['pred ours'] * 1e3:.0f} ms "
        f"-> {med['pred lesson'] / med['pred ours']:.2f}x"
    )
    return train_ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    torch.manual_seed(1)
    ours, lesson = SmallCNN(num_classes=4), LessonCNN(4)
    lesson.load_state_dict(ours.state_dict())
    x, y = torch.randn(32, 1, 28, 28) * 2, torch.randint(0, 4, (32,))
    worst = mismatch(ours, lesson, x, y)
    print(f"largest difference of logits and gradients: {worst:.1e}")
    if not worst < 1e-4:
        print("MISMATCH: SmallCNN computes another function", file=sys.stderr)
        return 1
    ratios = {t: compare(t, args.steps, args.repeats) for t in args.threads}
    if 1 in ratios:
        verdict = "met" if ratios[1] >= 1.3 else "NOT met"
        print(f"target (training step >= 1.3x faster on one thread): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
