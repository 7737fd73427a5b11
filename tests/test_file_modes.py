"""Files the toolkit writes follow the umask like any `open(path, "w")` (they used to be
0600, the mode of tempfile.mkstemp): results.json, figures, calibration.json."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from xssab.explain.base import Explanation, ImageMaps
from xssab.models import cache
from xssab.report import results as R
from xssab.report.explain_figure import explain_figure


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def test_results_json_and_csv_follow_the_umask(tmp_path, umask_022):
    pct = list(range(5, 100, 5))
    curve = {"percent": pct, "fmr": [0.1] * len(pct), "fnmr": [0.2] * len(pct)}
    res = {"dataset": "synth", "pairs": 2, "models": {"m": {"threshold": 0.3, "eer": 0.1,
           "methods": {"xssab": {"ms_per_pair": 1.0, "dpr": {"best_worst": curve,
                                                               "random": curve},
                                 "localization_auroc": None,
                                 "localization_auroc_control": None}}}}}
    for p in R.write_results(tmp_path, res):
        assert _mode(p) == 0o644, p


def test_explain_figure_follows_the_umask(tmp_path, umask_022):
    maps = ImageMaps(*(np.zeros((20, 20), np.float32) for _ in range(3)))
    exp = Explanation("xssab", 0.4, 0.3, True, maps, maps)
    img = np.zeros((20, 20, 3), np.uint8)
    assert _mode(explain_figure(exp, img, img, tmp_path / "f.png")) == 0o644


def test_calibration_json_follows_the_umask(xssab_home, umask_022):
    assert _mode(cache.write_calibration("m", {"threshold": 0.3})) == 0o644
