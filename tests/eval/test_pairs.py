"""One balanced subset (bench and calibrate) and the dataset sizing option."""

import pytest

import xssab
from xssab.data.base import Pair
from xssab.eval import balanced_subset
from xssab.eval.data import open_dataset
from xssab.models import calibrate as calibrate_mod
from xssab.synth.dataset import pairs_per_fold_for


def test_balanced_subset_balanced_and_ordered():
    pairs = [Pair(str(i), str(i + 1), i % 20 < 10, i // 20) for i in range(200)]
    sub = balanced_subset(pairs, 21)
    assert len(sub) == 21
    assert sum(p.same for p in sub) == 11  # ceil(n/2) genuine
    idx = [pairs.index(p) for p in sub]
    assert idx == sorted(idx)
    assert len({p.fold for p in sub}) == 10  # spread over every fold
    assert balanced_subset(pairs, 0) == pairs and balanced_subset(pairs, None) == pairs
    # one class short: the other fills in
    few = [p for p in pairs if p.same][:3] + [p for p in pairs if not p.same]
    sub = balanced_subset(few, 10)
    assert len(sub) == 10 and sum(p.same for p in sub) == 3


def test_calibrate_uses_the_bench_subset():
    assert calibrate_mod.balanced_subset is balanced_subset


def test_synth_sizes_itself():
    assert pairs_per_fold_for(None) == 300 and pairs_per_fold_for(0) == 300
    assert pairs_per_fold_for(6) == 10  # at least 10 per fold: a 200-pair EER threshold
    assert pairs_per_fold_for(400) == 20 and pairs_per_fold_for(401) == 21


def test_min_pairs_reaches_only_factories_that_take_it(fake_plugin):
    seen = {}

    class Plugin:
        @xssab.hookimpl
        def register_datasets(self, register):
            def sized(path=None, min_pairs=None):
                seen["sized"] = min_pairs
                return "sized"

            def fixed(path=None):
                seen["fixed"] = path
                return "fixed"

            register(xssab.DatasetEntry("sizedset", sized))
            register(xssab.DatasetEntry("fixedset", fixed))

    fake_plugin(Plugin(), "sizing")
    assert open_dataset("sizedset", min_pairs=40) == "sized" and seen["sized"] == 40
    assert open_dataset("fixedset", "p", min_pairs=40) == "fixed" and seen["fixed"] == "p"
    with pytest.raises(xssab.XssabError, match="nosuch"):
        open_dataset("nosuch", min_pairs=4)
