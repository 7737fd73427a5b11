"""Each shared helper has one home (issue 9): a pattern that implements it may appear only
there. Too short for a generic duplicate finder, so they are listed here by their
tell-tale lines."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: (what, regex, the files allowed to contain it)
HOMES = [
    ("atomic write (temporary file)", r"tempfile\.mkstemp|tempfile\.mkdtemp",
     {"xssab/_util.py"}),
    ("atomic write (rename into place)", r"os\.replace\(|os\.rename\(",
     {"xssab/_util.py", "xssab/models/cache.py"}),  # cache: zip member into its .part
    ("sha256 of a file", r"hashlib\.sha256\(\)[\s\S]{0,120}open\([^)]*\"rb\"|read_bytes\(\)\)\.hexdigest",
     {"xssab/_util.py"}),
    ("L2 normalisation (numpy)", r"/\s*np\.(linalg\.norm|maximum\(np\.linalg\.norm)\(",
     {"xssab/_util.py"}),
    ("L2 normalisation (numpy, in place)", r"/=\s*np\.linalg\.norm\(", set()),
    ("L2 normalisation (torch)", r"/\s*\w+\.norm\(dim=", {"xssab/_util.py"}),
    ("image decoding", r"cv2\.imdecode\(", {"xssab/_util.py"}),
    ("RGB conversion", r"def to_rgb\(", {"xssab/_util.py"}),
    ("the shrink resize rule", r"INTER_AREA if", {"xssab/_util.py"}),
    ("Gaussian blur", r"cv2\.GaussianBlur\(", {"xssab/kit.py"}),
    ("signed map -> ImageMaps", r"positive=np\.maximum\(", {"xssab/kit.py"}),
    ("pair-input check", r"sides must be 'both' or 'a'",
     {"xssab/kit.py", "xssab/explain/xssab.py"}),  # xssab_chunk: the tensor-level kernel
    ("STRATEGIES", r"^STRATEGIES\s*=", {"xssab/metrics/dpr.py"}),
    ("CLI parser / exit-code shell", r"class _Parser\(|except SystemExit",
     {"xssab/cli/main.py"}),
    ("PNG encoding", r"cv2\.imencode\(", {"xssab/_util.py"}),
]


def _sources() -> list[str]:
    files = subprocess.run(["git", "ls-files", "xssab", "plugins"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    return [f for f in files if f.endswith(".py") and "/build/" not in f
            and (ROOT / f).is_file()]


@pytest.mark.parametrize("what, pattern, homes", HOMES, ids=[h[0] for h in HOMES])
def test_helper_has_one_home(what, pattern, homes):
    rx = re.compile(pattern, re.MULTILINE)
    found = {f for f in _sources() if rx.search((ROOT / f).read_text())}
    assert found <= homes, f"{what} re-implemented in {sorted(found - homes)}"
