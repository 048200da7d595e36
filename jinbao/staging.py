"""The staging area's lifecycle: a run's Parquet files hold full ID numbers and names, so they
live only as long as they are needed.

    <root>/<run_id>/.jinbao-run      marks a folder as a run's (nothing else is ever removed)
    <root>/<run_id>/committed        written once the run's ledger and watermarks committed

At commit, a run's data files go at once ([staging] retention_days = 0) or when a later run
finishes after that many days; manifests (counts only) stay with the folder. A run that never
committed keeps its files [staging] abandoned_days, for a rerun of its failed tasks.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from pathlib import Path

from jinbao.config_model import SAFE_NAME

MARK, COMMITTED = ".jinbao-run", "committed"
DATA = ("accepted", "quarantined", "validation_rows")
DAY = 86400.0
log = logging.getLogger("jinbao")


def inside(root: Path, *parts: str) -> Path:
    """root/parts..., refusing anything that would leave root (a name is never a path)."""
    path = root.joinpath(*parts).resolve()
    if not path.is_relative_to(root.resolve()) or path == root.resolve():
        raise ValueError(f"{'/'.join(parts)!r} is not a name inside {root}")
    return path


def run_folder(root: Path, run_id: str) -> Path:
    """The run's staging folder, created and marked as a run's."""
    folder = inside(root, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARK).touch(exist_ok=True)
    return folder


def _remove_data(folder: Path) -> None:
    for name in DATA:
        shutil.rmtree(folder / name, ignore_errors=True)


def committed(root: Path, run_id: str, retention_days: float) -> None:
    """The run committed: mark it, and remove its data files now if nothing is retained."""
    folder = inside(root, run_id)
    if not (folder / MARK).exists():
        return
    (folder / COMMITTED).touch(exist_ok=True)
    if retention_days <= 0:
        _remove_data(folder)


def sweep(root: Path, retention_days: float, abandoned_days: float, keep: str = "",
          now: float | None = None) -> list[str]:
    """Remove what is past its time in the other run folders: a committed run's data files
    after retention_days, its folder (manifests) once abandoned_days have passed too; an
    uncommitted run's folder after abandoned_days. Never `keep`, never a folder without the
    run mark. Returns the folders touched."""
    now = time.time() if now is None else now
    touched = []
    if not root.is_dir():
        return touched
    for folder in sorted(root.iterdir()):
        if folder.name == keep or not re.match(SAFE_NAME, folder.name) \
                or not (folder / MARK).is_file():
            continue
        done = (folder / COMMITTED).exists()
        age = (now - (folder / (COMMITTED if done else MARK)).stat().st_mtime) / DAY
        if age > (max(retention_days, abandoned_days) if done else abandoned_days):
            shutil.rmtree(folder, ignore_errors=True)
            touched.append(folder.name)
        elif done and age > retention_days and any((folder / d).exists() for d in DATA):
            _remove_data(folder)
            touched.append(folder.name)
    if touched:
        log.info("staging: removed the files of %d earlier runs", len(touched))
    return touched
