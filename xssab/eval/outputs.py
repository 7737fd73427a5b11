"""Files of a run: results.json + CSVs (``report.results``), DPR curves and example map
grids per model (``report.figures``)."""

from __future__ import annotations

from pathlib import Path

from .result import BenchResult

#: example pairs per map grid (half genuine, half impostor)
N_EXAMPLES = 4


def write_outputs(result: BenchResult, out=None, force: bool | None = None) -> list[Path]:
    """Write everything into ``out`` (default ``result.config.out``); returns the paths.
    The folder is locked while writing (``xssab.safe_output.folder_lock``)."""
    from ..safe_output import folder_lock

    cfg = result.config
    out = Path(out if out is not None else cfg.out)
    force = cfg.force if force is None else force

    with folder_lock(out):  # another run writing here: one-line error, nothing mixed
        return _write(result, out, force)


def _write(result: BenchResult, out: Path, force: bool) -> list[Path]:
    from ..report.figures import plot_curves, plot_map_grid
    from ..report.results import write_results

    res = result.to_dict()
    ps, same = result.data.patched, result.data.same
    gen = [i for i in range(len(same)) if same[i]][: N_EXAMPLES // 2]
    imp = [i for i in range(len(same)) if not same[i]][: N_EXAMPLES // 2]
    written = []
    for mname, mres in res["models"].items():
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in mname)
        written.append(plot_curves(mname, mres, out / f"curves_{safe}.png"))
        model = result.models[mname]
        methods = list(model.methods)
        if methods:
            rows = [{"patched": ps.patched[i], "original": ps.original[i], "b": ps.b[i],
                     "mask": ps.mask[i], "same": bool(same[i]),
                     "score": float(model.verification.s_patched[i]),
                     "maps": {x: model.methods[x].maps[f"p{i}"] for x in methods}}
                    for i in gen + imp]
            written.append(plot_map_grid(mname, rows, methods, out / f"maps_{safe}.png"))
    written += write_results(out, res, force=force)
    return written
