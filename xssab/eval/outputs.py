"""Files of a run: results.json + CSVs (``report.results``), DPR curves and example map
grids per model (``report.figures``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .result import BenchResult

#: example pairs per map grid (half genuine, half impostor)
N_EXAMPLES = 4


def example_pairs(result: BenchResult, model_name: str) -> list[dict]:
    """Rows for the map grid: the first genuine and impostor pairs that EVERY method of
    the model explained (x-face may run on a subset)."""
    model = result.models[model_name]
    ps, same = result.data.patched, result.data.same
    n = len(same)
    methods = list(model.methods)
    if not methods:
        return []
    pos = {}
    for x in methods:
        idx = model.methods[x].pair_index
        idx = np.arange(n) if idx is None else np.asarray(idx)
        pos[x] = {int(i): j for j, i in enumerate(idx)}
    common = sorted(set.intersection(*(set(p) for p in pos.values())))
    gen = [i for i in common if same[i]][: N_EXAMPLES // 2]
    imp = [i for i in common if not same[i]][: N_EXAMPLES // 2]
    return [{"patched": ps.patched[i], "original": ps.original[i], "b": ps.b[i],
             "mask": ps.mask[i], "same": bool(same[i]),
             "score": float(model.verification.s_patched[i]),
             "maps": {x: model.methods[x].maps[f"p{pos[x][i]}"] for x in methods}}
            for i in gen + imp]


def write_outputs(result: BenchResult, out=None, force: bool | None = None,
                  fmt: str = "png") -> list[Path]:
    """Write everything into ``out`` (default ``result.config.out``); returns the paths.
    ``fmt``: png, pdf or svg for the figures. The folder is locked while writing
    (``xssab.safe_output.folder_lock``)."""
    from ..report.figures import check_format
    from ..safe_output import folder_lock

    fmt = check_format(fmt)
    cfg = result.config
    out = Path(out if out is not None else cfg.out)
    force = cfg.force if force is None else force

    with folder_lock(out):  # another run writing here: one-line error, nothing mixed
        return _write(result, out, force, fmt)


def _write(result: BenchResult, out: Path, force: bool, fmt: str) -> list[Path]:
    from ..report.figures import plot_curves, plot_map_grid
    from ..report.results import write_results

    res = result.to_dict()
    written = []
    for mname, mres in res["models"].items():
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in mname)
        written.append(plot_curves(mname, mres, out / f"curves_{safe}.{fmt}"))
        rows = example_pairs(result, mname)
        if rows:
            written.append(plot_map_grid(mname, rows, list(result.models[mname].methods),
                                         out / f"maps_{safe}.{fmt}",
                                         threshold=mres["threshold"],
                                         threshold_source=mres.get("threshold_source")))
    written += write_results(out, res, force=force)
    return written
