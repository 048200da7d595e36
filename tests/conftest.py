"""Shared fixtures: simulated estates (built once per session) and fresh warehouses per test."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from jinbao.config import Config, load_config
from jinbao.estate import build_estate

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def estate_2000(tmp_path_factory) -> Path:
    """The issue's reference estate: 2,000 persons, every damage of the catalogue."""
    out = tmp_path_factory.mktemp("estate2000")
    build_estate(2000, 2026, out)
    return out


@pytest.fixture(scope="session")
def small_estate(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("estate300")
    build_estate(300, 11, out)
    return out


def fresh_config(estate: Path, workdir: Path, buckets: int | None = None) -> Config:
    """The estate's configuration with its own empty warehouse, staging and GX folders."""
    cfg = load_config(estate / "jinbao.toml")
    workdir.mkdir(parents=True, exist_ok=True)
    return dataclasses.replace(
        cfg, warehouse_url=f"sqlite:///{workdir / 'warehouse.db'}",
        staging_root=workdir / "staging", gx_root=workdir / "gx",
        buckets=buckets or cfg.buckets)


def written_config(cfg: Config, path: Path) -> Path:
    """`cfg` as a TOML file with absolute paths (for subprocesses: the CLI, Airflow)."""
    lines = [f'[warehouse]\nurl = "{cfg.warehouse_url}"\n',
             f'[staging]\nroot = "{cfg.staging_root}"\ngx_root = "{cfg.gx_root}"\n'
             f"buckets = {cfg.buckets}\n"]
    for name, source in cfg.sources.items():
        where = f'path = "{source.path}"' if source.path else f'url = "{source.url}"'
        lines.append(f'[sources.{name}]\nsystem = "{source.system}"\n{where}\n')
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
