"""trustworthy_lib.ood_evaluation: imports without torch; edge cases of the three-way
sweep.

The agreement of the metrics with scikit-learn and pytorch-ood is tested in test_ood.py,
next to the scores they evaluate.
"""

import subprocess
import sys

import numpy as np
from sklearn.metrics import precision_recall_fscore_support

from trustworthy_lib.ood_evaluation import OOD_LABEL, ood_metrics, ood_threshold_sweep


def test_imports_and_runs_without_torch():
    code = (
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ImportError('torch is blocked in this test')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "from trustworthy_lib.ood_evaluation import ood_metrics\n"
        "print(round(ood_metrics([0.1, 0.2, 0.3], [0.25, 0.9])['auroc'], 4))\n"
        "assert 'torch' not in sys.modules\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(
        round(ood_metrics([0.1, 0.2, 0.3], [0.25, 0.9])["auroc"], 4)
    )
    assert (
        out.stdout.strip() == "0.8333"
    )  # 5 of the 6 (OOD, ID) pairs are ordered right


def test_ood_threshold_sweep_without_ood_samples():
    y_true = np.array([0, 1, 0, 1, 1, 0])
    y_pred = np.array([0, 1, 1, 1, 0, 0])
    scores = np.array([0.1, 0.5, 0.3, 0.9, 0.2, 0.7])
    sweep = ood_threshold_sweep(y_true, y_pred, scores, n_classes=2)
    # every OOD-class quantity that divides by the number of OOD samples is undefined
    assert sweep["ood_recall"].isna().all() and sweep["ood_f1"].isna().all()
    assert sweep["ood_accepted"].isna().all()
    # ID columns still agree with scikit-learn at each threshold
    for _, row in sweep.iterrows():
        y_hat = np.where(scores > row.threshold, OOD_LABEL, y_pred)
        p, r, f, _ = precision_recall_fscore_support(
            y_true, y_hat, labels=[0, 1], average="macro", zero_division=0
        )
        np.testing.assert_allclose([row.precision, row.recall, row.f1], [p, r, f])
        assert row.id_accepted == np.mean(scores <= row.threshold)
