import subprocess
import sys

import numpy as np
import pytest
import torch

from trustworthy_lib import get_device, seed_everything


@pytest.mark.parametrize("available, expected", [(True, "cuda"), (False, "cpu")])
def test_get_device_follows_cuda_availability(monkeypatch, available, expected):
    monkeypatch.delenv("TRUSTWORTHY_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
    assert get_device().type == expected
    assert get_device("auto").type == expected
    if not available:
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            get_device("cuda")


def test_get_device_forced_cpu_and_bad_names(monkeypatch):
    assert get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("TRUSTWORTHY_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device"):
        get_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            get_device("cuda")


def test_seed_everything_makes_draws_repeatable():
    seed_everything(7)
    a = (np.random.rand(3), torch.rand(3))
    rng = seed_everything(7)
    b = (np.random.rand(3), torch.rand(3))
    np.testing.assert_array_equal(a[0], b[0])
    assert torch.equal(a[1], b[1])
    assert isinstance(rng, np.random.Generator)


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="seed"):
        seed_everything(bad)


def test_import_changes_no_global_rng_state():
    code = (
        "import torch, numpy as np\n"
        "torch.manual_seed(123); np.random.seed(123)\n"
        "a = torch.get_rng_state().clone(); b = np.random.get_state()[1].copy()\n"
        "import trustworthy_lib, trustworthy_lib.data, trustworthy_lib.models\n"
        "assert torch.equal(a, torch.get_rng_state())\n"
        "assert (b == np.random.get_state()[1]).all()\n"
        "assert not torch.are_deterministic_algorithms_enabled()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_chapter_seed_reads_the_environment(monkeypatch):
    from trustworthy_lib import chapter_seed

    monkeypatch.delenv("TRUSTWORTHY_SEED", raising=False)
    assert chapter_seed() == 0
    assert chapter_seed(default=5) == 5
    monkeypatch.setenv("TRUSTWORTHY_SEED", " 2 ")
    assert chapter_seed() == 2


@pytest.mark.parametrize("bad", ["-1", "1.5", "one", "0x3"])
def test_chapter_seed_rejects_bad_values(monkeypatch, bad):
    from trustworthy_lib import chapter_seed

    monkeypatch.setenv("TRUSTWORTHY_SEED", bad)
    with pytest.raises(ValueError, match="TRUSTWORTHY_SEED"):
        chapter_seed()


def test_eval_mode_restores_each_submodule_exactly():
    from torch import nn

    from trustworthy_lib.utils import eval_mode

    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5), nn.BatchNorm1d(2))
    model.train()
    model[2].eval()  # a mixed state: only the batch norm is frozen
    before = [m.training for m in model.modules()]
    with eval_mode(model) as inside:
        assert inside is model
        assert not any(m.training for m in model.modules())
    assert [m.training for m in model.modules()] == before
    try:
        with eval_mode(model):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert [
        m.training for m in model.modules()
    ] == before  # restored after an error too
