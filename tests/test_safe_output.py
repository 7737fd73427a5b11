import multiprocessing as mp
import os

import pytest

from xssab.errors import XssabError
from xssab.safe_output import check_writable_dir, check_writable_file, entry_lock, folder_lock


def test_writable_checks(tmp_path):
    assert check_writable_dir(tmp_path / "new" / "dir").is_dir()
    (tmp_path / "f").write_text("x")
    with pytest.raises(XssabError, match="is a file, not a folder"):
        check_writable_dir(tmp_path / "f" / "sub")
    with pytest.raises(XssabError, match="is a folder"):
        check_writable_file(tmp_path)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if not os.access(ro, os.W_OK):  # (root ignores permissions)
            with pytest.raises(XssabError, match="cannot write there") as exc:
                check_writable_dir(ro)
            assert "\n" not in str(exc.value)
    finally:
        ro.chmod(0o700)
    assert not [p for p in (tmp_path / "new" / "dir").iterdir()]  # probe removed


def _hold(folder, ready, done):
    with folder_lock(folder):
        ready.set()
        done.wait(10)


def test_folder_lock_refuses_a_second_run(tmp_path):
    ctx = mp.get_context("fork")
    ready, done = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold, args=(tmp_path, ready, done))
    p.start()
    try:
        assert ready.wait(10)
        with pytest.raises(XssabError, match="in use by another xssab run"):
            with folder_lock(tmp_path):
                pass
    finally:
        done.set()
        p.join(10)
    with folder_lock(tmp_path):  # free again, and re-entrant within one process
        with folder_lock(tmp_path):
            pass
    with entry_lock(tmp_path / "entry"):
        pass
