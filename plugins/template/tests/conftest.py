"""Run the template's tests from a source checkout too (installed, the package is found)."""

import sys
from pathlib import Path

try:
    import xssab_plugin_template  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
