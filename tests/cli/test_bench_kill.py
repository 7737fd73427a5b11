"""Resume across processes: ``xssab-bench`` (the installed console script) is interrupted
with SIGINT, then with SIGKILL, in the middle of a stage (a stage's ``<stage>.parts/``
chunk files exist: the stage started and has not finished). After each kill every cache
file left under ``$XSSAB_HOME/bench`` is complete (loads) -- a partial file must not
exist under a cache name -- and the final rerun gives the numbers of an uninterrupted
``--no-cache`` run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from tests.graphs import model_and_folder

N_PAIRS = 8


def _console_script() -> str:
    here = Path(sys.executable).parent / "xssab-bench"
    found = str(here) if here.exists() else shutil.which("xssab-bench")
    assert found, "the xssab-bench console script is not installed (pip install -e .)"
    return found


def _argv(model, data, out, *extra):
    return ["--models", str(model), "--methods", "xssab", "--dataset", "folder",
            "--data", str(data), "--pairs", "0", "--out", str(out), "--batch-size", "1",
            *extra]


def _env(home):
    env = dict(os.environ)
    env.update(XSSAB_HOME=str(home), XSSAB_NO_ENTRYPOINTS="1", XSSAB_ORT_THREADS="1",
               OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore", COLUMNS="200")
    return env


def _parts(bench: Path) -> list[Path]:
    return sorted(bench.glob("*/*.parts/*.npz"))


def _start(argv, home):
    return subprocess.Popen([_console_script(), *argv], env=_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_mid_stage(proc, bench: Path, sig, seen_before: int, timeout=240.0):
    """Send ``sig`` once a new chunk file of an unfinished stage appears; returns the
    chunk files seen at that moment (the stage had started and not finished)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        parts = _parts(bench)
        if len(parts) > seen_before:
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=120)
            return parts, proc.returncode, out, err
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the run ended (rc {proc.returncode}) before a stage was "
                                 f"caught mid-way:\n{out[-2000:]}\n{err[-2000:]}")
        time.sleep(0.002)
    proc.kill()
    raise AssertionError("no stage chunk appeared in time")


def _check_cache_files(bench: Path) -> int:
    """Every file under a cache name is complete; returns how many .npz files loaded."""
    n = 0
    for f in sorted(bench.rglob("*")):
        if f.is_dir() or f.name.endswith((".tmp", ".lock")):
            continue  # temporary files and writer locks are never read as cache entries
        if f.suffix == ".npz":
            with np.load(f, allow_pickle=False) as z:  # raises on a truncated file
                assert "__meta__" in z.files, f
                json.loads(str(z["__meta__"]))
                for k in z.files:
                    z[k]
            n += 1
        elif f.suffix == ".json":
            json.loads(f.read_text())
        elif f.suffix == ".png":  # the patched set (written to a temporary folder first)
            assert cv2.imread(str(f), cv2.IMREAD_UNCHANGED) is not None, f
        else:
            raise AssertionError(f"unexpected file in the stage cache: {f}")
    return n


def _run_here(argv):
    import io

    from rich.console import Console

    from xssab.cli.bench import main

    con = Console(file=io.StringIO(), width=200)
    return main(argv, console=con), con.file.getvalue()


def _numbers(path: Path) -> dict:
    res = json.loads(path.read_text())
    res.pop("stages")  # which stages came from the cache: differs on a resumed run
    for m in res["models"].values():
        for x in m["methods"].values():
            x.pop("ms_per_pair")  # measured per run
            x.pop("ms_per_pair_cached")
    return res


def test_killed_bench_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    model, data = model_and_folder(tmp_path, N_PAIRS)
    home = tmp_path / "home"
    bench = home / "bench"
    out = tmp_path / "out"

    # 1. Ctrl-C in the middle of the explanation stage
    proc = _start(_argv(model, data, out), home)
    parts, rc, _, err = _kill_mid_stage(proc, bench, signal.SIGINT, 0)
    assert rc == 130, err
    assert "Traceback" not in err
    assert not (out / "results.json").exists()
    assert _check_cache_files(bench) >= len(parts)
    assert not list(bench.rglob("*.tmp")), "an interrupted write left its temporary file"

    # 2. resumed, then SIGKILLed (no clean-up at all) as soon as it adds a chunk
    first = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in parts}
    proc = _start(_argv(model, data, out), home)
    parts2, rc, _, _ = _kill_mid_stage(proc, bench, signal.SIGKILL, len(parts))
    assert rc == -signal.SIGKILL
    # the first run's chunks were reused, not recomputed and rewritten
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in parts} == first
    assert set(parts) < set(parts2)
    _check_cache_files(bench)

    # 3. runs to the end (in this process: the cross-process part is done); equals an
    # uninterrupted run without the cache
    monkeypatch.setenv("XSSAB_HOME", str(home))
    rc, text = _run_here(_argv(model, data, out))
    assert rc == 0, text
    assert not _parts(bench)  # finished stages drop their chunks
    assert _check_cache_files(bench) >= 3  # verify, explain, dpr stages at least
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path / "home_fresh"))
    rc, text = _run_here(_argv(model, data, tmp_path / "fresh", "--no-cache"))
    assert rc == 0, text
    assert not (tmp_path / "home_fresh" / "bench").exists()
    assert _numbers(out / "results.json") == _numbers(tmp_path / "fresh" / "results.json")


def test_interrupt_while_writing_leaves_no_partial_cache_file(tmp_path, monkeypatch):
    """Deterministic companion of the kill test: Ctrl-C arrives in the middle of writing
    a cache file (``numpy.savez`` has written half of its bytes). Nothing may be left under
    a cache name, and the rerun completes to the uninterrupted result."""
    import io

    model, data = model_and_folder(tmp_path, 4)
    home = tmp_path / "home"
    monkeypatch.setenv("XSSAB_HOME", str(home))
    real = np.savez
    calls = []

    def half_then_interrupt(file, *args, **kwargs):
        calls.append(file)
        if len(calls) != 3:
            return real(file, *args, **kwargs)
        buf = io.BytesIO()
        real(buf, *args, **kwargs)
        data_ = buf.getvalue()
        if hasattr(file, "write"):
            file.write(data_[: len(data_) // 2])
        else:
            with open(file, "wb") as fh:
                fh.write(data_[: len(data_) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", half_then_interrupt)
    rc, _ = _run_here(_argv(model, data, tmp_path / "out"))
    assert rc == 130 and len(calls) == 3
    _check_cache_files(home / "bench")
    assert not list((home / "bench").rglob("*.tmp"))
    monkeypatch.setattr(np, "savez", real)
    rc, text = _run_here(_argv(model, data, tmp_path / "out"))
    assert rc == 0, text
    monkeypatch.setenv("XSSAB_HOME", str(tmp_path / "fresh_home"))
    rc, text = _run_here(_argv(model, data, tmp_path / "fresh", "--no-cache"))
    assert rc == 0, text
    assert (_numbers(tmp_path / "out" / "results.json")
            == _numbers(tmp_path / "fresh" / "results.json"))
