import json

import numpy as np
import pytest

from xssab.report import results as R
from xssab.report.tables import print_report
from xssab.report.figures import plot_curves, plot_map_grid
from rich.console import Console
import io


def _curve(v):
    return {"percent": list(range(5, 100, 5)), "fmr": [v] * 19, "fnmr": [v / 2] * 19}


def _res():
    meth = {"ms_per_pair": 12.5, "dpr": {"best_worst": _curve(0.2), "random": _curve(0.4)},
            "localization_auroc": 0.7, "localization_auroc_control": None,
            "gap_fmr": 0.2, "area_fmr_best_worst": float("nan")}
    return {"dataset": "synth", "pairs": 10,
            "models": {"m1": {"threshold": 0.3, "eer": np.float64(0.1),
                              "unpatched": {"fmr": 0.1, "fnmr": 0.1},
                              "methods": {"xssab": meth}}}}


def test_valid_results_pass_and_nan_becomes_null(tmp_path):
    res = _res()
    assert R.validate_results(R._clean(res)) == []
    paths = R.write_results(tmp_path, res)
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["models"]["m1"]["methods"]["xssab"]["area_fmr_best_worst"] is None
    assert data["models"]["m1"]["eer"] == 0.1
    assert R.validate_results(data) == []
    assert {p.name for p in paths} == {"results.json", "results.csv", "summary.csv"}
    rows = (tmp_path / "results.csv").read_text().splitlines()
    assert rows[0] == "model,method,strategy,percent,fmr,fnmr"
    assert len(rows) == 1 + 2 * 19
    assert rows[1] == "m1,xssab,best_worst,5,0.2,0.1"


@pytest.mark.parametrize("breaker, needle", [
    (lambda r: r.pop("dataset"), "dataset"),
    (lambda r: r["models"]["m1"].pop("threshold"), "threshold"),
    (lambda r: r["models"]["m1"]["methods"]["xssab"].pop("ms_per_pair"), "ms_per_pair"),
    (lambda r: r["models"]["m1"]["methods"]["xssab"].pop("localization_auroc_control"),
     "localization_auroc_control"),
    (lambda r: r["models"]["m1"]["methods"]["xssab"]["dpr"].pop("random"), "random"),
    (lambda r: r["models"]["m1"]["methods"]["xssab"]["dpr"]["best_worst"]["fmr"].pop(),
     "fmr"),
    (lambda r: r["models"]["m1"]["methods"]["xssab"]["dpr"]["best_worst"].update(
        percent=[5, 10]), "percent"),
])
def test_schema_violations_detected(breaker, needle):
    res = _res()
    breaker(res)
    errs = R.validate_results(R._clean(res))
    assert errs and any(needle in e for e in errs)


def test_no_silent_overwrite(tmp_path):
    R.write_results(tmp_path, _res())
    before = (tmp_path / "results.json").read_text()
    res = _res()
    res["pairs"] = 99
    with pytest.raises(R.OutputExistsError, match="--force") as exc:
        R.write_results(tmp_path, res)
    assert "\n" not in str(exc.value)
    assert (tmp_path / "results.json").read_text() == before
    R.write_results(tmp_path, res, force=True)
    assert json.loads((tmp_path / "results.json").read_text())["pairs"] == 99


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    f = tmp_path / "x.txt"
    R.atomic_write_text(f, "old")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(R.os, "replace", boom)
    with pytest.raises(OSError):
        R.atomic_write_text(f, "new")
    assert f.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]  # no temp file left


def test_tables_and_figures(tmp_path):
    res = R._clean(_res())
    con = Console(file=io.StringIO(), width=220)
    print_report(res, con)
    text = con.file.getvalue()
    assert "m1" in text and "xssab" in text and "12.5" in text
    p = plot_curves("m1", res["models"]["m1"], tmp_path / "c.png")
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = np.zeros((8, 8, 3), np.uint8)
    ex = [{"patched": img, "original": img, "b": img, "mask": np.eye(8, dtype=bool),
           "same": True, "score": 0.5, "maps": {"xssab": np.random.rand(8, 8)}}]
    p = plot_map_grid("m1", ex, ["xssab"], tmp_path / "g.png")
    assert p.stat().st_size > 1000


def test_figures_vector_formats_fixed_colours_and_bands(tmp_path):
    from xssab.errors import XssabError
    from xssab.report.figures import check_format, method_colour

    res = R._clean(_res())
    m = res["models"]["m1"]
    c = m["methods"]["xssab"]["dpr"]["best_worst"]
    c["fmr_ci"] = [[0.1, 0.3]] * 19
    c["fnmr_ci"] = [[0.05, None]] * 19
    pdf = plot_curves("m1", m, tmp_path / "c.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    svg = plot_curves("m1", m, tmp_path / "c.png", fmt="svg")
    assert svg.suffix == ".svg" and b"<svg" in svg.read_bytes()[:2000]
    assert svg.read_bytes() == plot_curves("m1", m, tmp_path / "d.svg").read_bytes()
    # a method keeps its colour whatever else is in the run
    assert method_colour("xssab") == method_colour("xssab") != method_colour("xface")
    assert method_colour("my-plugin-method") == method_colour("my-plugin-method")
    with pytest.raises(XssabError, match="format"):
        check_format("jpg")
