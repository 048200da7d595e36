"""Nothing lost, nothing leaked, no traceback: every bad input a hostile or careless user (or a
legacy system) gives, and what the pipeline must answer.

Each data case damages a copy of a small estate and runs `jinbao run`: the run succeeds, the
damaged row is in the quarantine under its rule, and the ledger balances against the source's
own row count. Each command case must end with exit status 2 and one sentence. In every case
nothing printed or logged holds a full ID number, a name or a password, and there is no
traceback.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from estate import build_estate
from jinbao.cli import main
from tests.conftest import REPO

JINBAO = str(Path(sys.executable).parent / "jinbao")
SECRET = "s3cr3t-Pa55"


@pytest.fixture(scope="module")
def base_estate(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hostile_estate")
    build_estate(120, 31, out)
    return out


@dataclass
class Case:
    """A private copy of the estate, its configuration and warehouse."""

    root: Path
    estate: Path
    config: Path
    capsys: pytest.CaptureFixture
    printed: str = ""

    def sql(self, system: str, *statements: str, params: tuple = ()) -> None:
        with sqlite3.connect(self.estate / f"{system}.db") as conn:
            for statement in statements:
                conn.execute(statement, params)

    def rows(self, system: str, query: str) -> int:
        with sqlite3.connect(self.estate / f"{system}.db") as conn:
            return conn.execute(query).fetchone()[0]

    def jinbao(self, *args: str) -> int:
        """`jinbao ARGS --config F` in this process; what it printed is kept."""
        self.capsys.readouterr()
        code = main([*args, "--config", str(self.config)])
        done = self.capsys.readouterr()
        self.printed += done.out + done.err
        return code

    def warehouse(self, query: str, **params) -> list[tuple]:
        engine = create_engine(self.warehouse_url)
        with engine.connect() as conn:
            rows = conn.execute(text(query), params).all()
        engine.dispose()
        return [tuple(r) for r in rows]

    @property
    def warehouse_url(self) -> str:
        from jinbao.config import load_config

        return load_config(self.config).warehouse_url

    def set_config(self, old: str, new: str) -> None:
        self.config.write_text(self.config.read_text("utf-8").replace(old, new, 1), "utf-8")


@pytest.fixture
def case(base_estate, tmp_path, capsys) -> Case:
    estate = tmp_path / "estate"
    shutil.copytree(base_estate, estate)
    config = tmp_path / "jinbao.toml"
    sources = "".join(
        f'[sources.{s}]\nsystem = "{s}"\n'
        + (f'path = "{estate / "injury"}"\n' if s == "injury" else f'url = "sqlite:///{estate / s}.db"\n')
        for s in ("pension", "medical", "unemployment", "injury", "maternity"))
    config.write_text(f'[warehouse]\nurl = "sqlite:///w.db"\n[staging]\nbuckets = 2\n'
                      f'[run]\nretries = 1\nlock_wait = 0\n{sources}', "utf-8")
    return Case(tmp_path, estate, config, capsys)


def _personal(case: Case) -> tuple[set[str], set[str]]:
    truth = pd.read_csv(case.estate / "truth.csv", dtype=str, keep_default_na=False)
    names = set()
    for system, query in (("maternity", "SELECT xm FROM sy_cbry"),
                          ("pension", "SELECT aac003 FROM ac01")):
        with sqlite3.connect(case.estate / f"{system}.db") as conn:
            conn.text_factory = lambda b: b.decode("utf-8", "replace")
            names |= {n for (n,) in conn.execute(query) if isinstance(n, str) and 1 < len(n) < 50}
    return set(truth["person_key"]), names


def assert_clean(case: Case) -> None:
    """No traceback, no full ID number, no name, no password in anything printed."""
    printed = case.printed
    assert "Traceback" not in printed, printed[-3000:]
    numbers, names = _personal(case)
    assert not [n for n in numbers if n in printed], "a full ID number was printed"
    assert not [n for n in names if n in printed and n not in ("pension", "medical")], \
        "a name was printed"
    assert SECRET not in printed


def ledger_of(case: Case, source: str) -> tuple[int, int, int]:
    rows = case.warehouse("SELECT sum(extracted), sum(accepted), sum(quarantined) FROM run_ledger "
                          "WHERE source_name = :s", s=source)
    return tuple(int(v or 0) for v in rows[0])


def quarantined(case: Case, source: str, rule: str) -> list[str]:
    return [k for (k,) in case.warehouse(
        "SELECT source_key FROM quarantine WHERE source_system = :s AND rule = :r",
        s=source, r=rule)]


PENSION_ROWS = ("SELECT count(*) FROM ac01 LEFT JOIN ac02 ON ac02.aac001 = ac01.aac001")
COUNTS = {"pension": PENSION_ROWS, "medical": "SELECT count(*) FROM mi_insured",
          "unemployment": 'SELECT count(*) FROM "失业参保人员"',
          "maternity": "SELECT count(*) FROM sy_cbry"}


def _unconstrained(case: Case, system: str, table: str) -> None:
    """The table as an old system keeps it: the same columns, no key constraint."""
    case.sql(system, f'CREATE TABLE "{table}_x" AS SELECT * FROM "{table}"',
             f'DROP TABLE "{table}"', f'ALTER TABLE "{table}_x" RENAME TO "{table}"')


# (what, damage(case), source, the rule its row must be quarantined under)
DATA_CASES: list[tuple[str, Callable[[Case], None], str, str]] = [
    ("change time in the future", lambda c: c.sql(
        "maternity", "UPDATE sy_cbry SET gxsj = '2200-01-01 00:00:00.000000' WHERE grbh = "
                     "(SELECT min(grbh) FROM sy_cbry)"), "maternity", "updated_at_future"),
    ("change time 9999-12-31", lambda c: c.sql(
        "maternity", "UPDATE sy_cbry SET gxsj = '9999-12-31 23:59:59' WHERE grbh = "
                     "(SELECT min(grbh) FROM sy_cbry)"), "maternity", "updated_at_future"),
    ("change time zzzz (text column)", lambda c: c.sql(
        "unemployment", 'UPDATE "失业参保人员" SET "修改时间" = \'zzzz\' WHERE "个人编号" = '
                        '(SELECT min("个人编号") FROM "失业参保人员")'),
     "unemployment", "updated_at_invalid"),
    ("change time 2099-02-30", lambda c: c.sql(
        "maternity", "UPDATE sy_cbry SET gxsj = '2099-02-30 00:00:00' WHERE grbh = "
                     "(SELECT min(grbh) FROM sy_cbry)"), "maternity", "updated_at_invalid"),
    ("change time a REAL", lambda c: c.sql(
        "medical", "UPDATE mi_insured SET updt_time = 1700000000.5 WHERE psn_no = "
                   "(SELECT min(psn_no) FROM mi_insured)"), "medical", "updated_at_invalid"),
    ("invalid UTF-8 in a text column", lambda c: c.sql(
        "maternity", "UPDATE sy_cbry SET xm = CAST(X'E69D8EFF' AS TEXT) WHERE grbh = "
                     "(SELECT min(grbh) FROM sy_cbry)"), "maternity", "text_invalid_encoding"),
    ("a BLOB in a text column", lambda c: c.sql(
        "pension", "UPDATE ac01 SET aac003 = X'00FF10' WHERE aac001 = (SELECT min(aac001) FROM "
                   "ac01)"), "pension", "text_invalid_encoding"),
    ("a NULL key", lambda c: (_unconstrained(c, "maternity", "sy_cbry"), c.sql(
        "maternity", "UPDATE sy_cbry SET grbh = NULL WHERE grbh = (SELECT min(grbh) FROM "
                     "sy_cbry)")), "maternity", "source_key_missing"),
    ("a duplicated key", lambda c: (_unconstrained(c, "unemployment", "失业参保人员"), c.sql(
        "unemployment", 'INSERT INTO "失业参保人员" SELECT "个人编号", "姓名" || \'甲\', "身份证号", '
                        '"性别", "出生日期", "民族", "单位名称", "参保状态", "统筹区", "修改时间" '
                        'FROM "失业参保人员" ORDER BY "个人编号" LIMIT 1')),
     "unemployment", "duplicate_source_key"),
    ("an employer code longer than its column", lambda c: c.sql(
        "maternity", "UPDATE sy_cbry SET dwbh = 'E' || printf('%030d', 7) WHERE grbh = "
                     "(SELECT min(grbh) FROM sy_cbry)"), "maternity", "employer_id_too_long"),
    ("a name of 200,000 characters", lambda c: c.sql(
        "maternity", "UPDATE sy_cbry SET xm = replace(hex(zeroblob(100000)), '00', '王') WHERE "
                     "grbh = (SELECT min(grbh) FROM sy_cbry)"), "maternity", "field_oversized"),
]


@pytest.mark.parametrize("what, damage, source, rule", DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_bad_values_become_quarantine_rows_and_the_ledger_balances(case, what, damage, source,
                                                                   rule):
    damage(case)
    own = case.rows(source, COUNTS[source])
    assert case.jinbao("run") == 0, case.printed[-3000:]
    assert quarantined(case, source, rule), f"{what}: no {rule} row"
    extracted, accepted, quarantined_rows = ledger_of(case, source)
    assert extracted == accepted + quarantined_rows == own
    assert case.warehouse("SELECT count(*) FROM source_record WHERE source_system = :s",
                          s=source) == [(own,)]
    assert_clean(case)


def test_a_future_or_garbage_change_time_leaves_later_changes_readable(case):
    case.sql("maternity", "UPDATE sy_cbry SET gxsj = '2200-01-01 00:00:00.000000' WHERE grbh = "
                          "(SELECT min(grbh) FROM sy_cbry)")
    case.sql("unemployment", 'UPDATE "失业参保人员" SET "修改时间" = \'zzzz\' WHERE "个人编号" = '
                             '(SELECT min("个人编号") FROM "失业参保人员")')
    assert case.jinbao("run") == 0
    marks = dict(case.warehouse("SELECT source_name, value FROM watermark"))
    assert marks["maternity"] <= "2025" and marks["unemployment"] <= "2025"
    assert "read them again" in case.printed  # the run says why the watermark stays behind
    # a real change after the first run: read by the next run, in both sources
    case.sql("maternity", "UPDATE sy_cbry SET cbzt = '0', gxsj = '2025-06-01 08:00:00.000000' "
                          "WHERE grbh = (SELECT max(grbh) FROM sy_cbry)")
    case.sql("unemployment", 'UPDATE "失业参保人员" SET "参保状态" = \'退保\', "修改时间" = '
                             '\'2025/06/01 08:00:00\' WHERE "个人编号" = (SELECT max("个人编号") '
                             'FROM "失业参保人员")')
    assert case.jinbao("run") == 0
    last = case.warehouse("SELECT source_name, extracted FROM run_ledger WHERE run_id = "
                          "(SELECT max(run_id) FROM run_ledger)")
    # the changed row, and the future / unreadable one again (still quarantined)
    assert dict(last) == {"maternity": 2, "unemployment": 2, "pension": 0, "medical": 0,
                          "injury": 0}
    assert case.warehouse("SELECT value FROM watermark WHERE source_name = 'maternity'") == [
        ("2025-06-01 08:00:00",)]
    assert_clean(case)


def _injury_file(case: Case) -> Path:
    return sorted((case.estate / "injury").glob("*/440100.csv"))[-1]


def test_a_stray_quote_in_an_export_costs_one_line(case):
    path = _injury_file(case)
    lines = path.read_bytes().split(b"\r\n")
    fields = lines[3].split(b",")
    lines[3] = b",".join([fields[0], b'"' + fields[1], *fields[2:]])
    path.write_bytes(b"\r\n".join(lines))
    assert case.jinbao("run") == 0
    assert len(quarantined(case, "injury", "csv_unbalanced_quote")) == 1
    month = path.parent.name
    later_rows = [k for (k,) in case.warehouse(
        "SELECT source_key FROM source_record WHERE source_system = 'injury' AND watermark = :m",
        m=month)]
    assert len(later_rows) >= len(lines) - 3  # every other line of the file read from it
    extracted, accepted, rejected = ledger_of(case, "injury")
    assert extracted == accepted + rejected
    assert_clean(case)


def test_stray_export_folders_and_files_are_named_not_read(case):
    injury = case.estate / "injury"
    newest = sorted(p for p in injury.iterdir() if p.is_dir())[-1]
    for stray in ("backup1", "2024-13"):
        shutil.copytree(newest, injury / stray)
    (newest / "440300.csv").rename(newest / "440300.CSV")
    (newest / "说明.txt").write_text("not data", "utf-8")
    assert case.jinbao("run") == 0
    for name in ("backup1/", "2024-13/", "说明.txt"):
        assert name in case.printed
    assert case.warehouse("SELECT count(*) FROM source_record WHERE source_system = 'injury' "
                          "AND source_key LIKE '440300|%' AND watermark = :m",
                          m=newest.name)[0][0] > 0  # the .CSV file was read
    detail = case.warehouse("SELECT detail FROM run_ledger WHERE source_name = 'injury'")[0][0]
    assert "backup1/" in detail and "2024-13/" in detail
    marks = dict(case.warehouse("SELECT source_name, value FROM watermark"))
    assert marks["injury"] == newest.name  # not 'backup1'
    assert case.jinbao("run") == 0  # and the next run is fine
    assert_clean(case)


COMMAND_CASES = [
    # (what, change to the config (old, new) or None, arguments, what stderr must say)
    ("--since yesterday", None, ["run", "--since", "yesterday"], "is not a moment"),
    ("--since 2024-02-30", None, ["run", "--since", "2024-02-30"], "is not a day that exists"),
    ("--since 2024-1", None, ["run", "--since", "2024-1"], "is not a moment"),
    ("--since with an offset", None, ["run", "--since", "2024-01-01T00:00:00+08:00"],
     "no offset"),
    ("an inverted window", None, ["run", "--since", "2024-12-01", "--until", "2024-11-01"],
     "is empty"),
    ("an unknown source", None, ["run", "--sources", "pension,dental"], "unknown source 'dental'"),
    ("buckets = 0", ("buckets = 2", "buckets = 0"), ["run"], "[staging] buckets = 0: must be at least 1"),
    ("buckets = -1", ("buckets = 2", "buckets = -1"), ["run"], "must be at least 1"),
    ("buckets = 10^6", ("buckets = 2", "buckets = 1000000"), ["run"], "must be at most 4096"),
    ('buckets = "four"', ("buckets = 2", 'buckets = "four"'), ["run"], "must be a whole number"),
    ("a misspelt section", ("[staging]", "[stagng]"), ["run"], "did you mean [staging]?"),
    ("a misspelt key", ('url = "sqlite:///w.db"', 'ulr = "sqlite:///w.db"'), ["run"],
     "did you mean url?"),
    ("a URL that is a number", ('url = "sqlite:///w.db"', "url = 5"), ["run"], "must be text"),
    ("[sources] not a table", lambda c: c.config.write_text(
        'sources = "all"\n[warehouse]\nurl = "sqlite:///w.db"\n', "utf-8"), ["run"],
     "[sources] = 'all': must be a table"),
    ("a source named ''", ("[sources.pension]", '[sources.""]'), ["run"], "source name ''"),
    ("a source named '.'", ("[sources.pension]", '[sources."."]'), ["run"], "source name '.'"),
    ("conn without an Airflow connection", None, ["run"], "no such Airflow connection here"),
    ("report --province 99", None, ["report", "--out", "rep", "--province", "99"],
     "--province '99' is not a province"),
    ("review merge without --keep", None, ["review", "resolve", "x", "merge", "--by", "li"],
     "merge needs --keep"),
    ("review resolve without a reviewer", None, ["review", "resolve", "x", "dismiss"],
     "who decides?"),
    ("review show of no case", None, ["review", "show", "no-such-case"], "no case 'no-such-case'"),
]


@pytest.mark.parametrize("what, change, args, said", COMMAND_CASES,
                         ids=[c[0] for c in COMMAND_CASES])
def test_bad_commands_and_configurations_are_one_sentence(case, what, change, args, said,
                                                           monkeypatch):
    monkeypatch.delenv("JINBAO_REVIEWER", raising=False)
    if callable(change):
        change(case)
    elif change:
        case.set_config(*change)
    if what.startswith("conn"):
        case.set_config('url = "sqlite:///' + str(case.estate / "maternity.db") + '"',
                        'conn = "legacy_maternity_4401"')
    monkeypatch.chdir(case.root)
    assert case.jinbao(*args) == 2
    assert said in case.printed, case.printed
    assert "error: " in case.printed
    assert_clean(case)


def test_a_path_like_source_name_is_refused_and_touches_nothing(case, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me", "utf-8")
    for name in ("../victim", str(victim), "../../x"):
        case.set_config("[sources.pension]", f'[sources."{name}"]')
        assert case.jinbao("run") == 2
        assert "may hold only letters" in case.printed
        case.set_config(f'[sources."{name}"]', "[sources.pension]")
    assert (victim / "precious.txt").read_text("utf-8") == "keep me"


def test_commands_without_a_configuration_say_how_to_get_one(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JINBAO_CONFIG", raising=False)
    for args in (["status"], ["run"], ["review", "list"], ["report", "--out", "r"]):
        assert main(args) == 2
        said = capsys.readouterr().err
        assert "no configuration: give --config FILE" in said and "jinbao demo" in said


def test_a_configuration_that_is_not_utf8_is_named(case):
    case.config.write_bytes(case.config.read_text("utf-8").replace(
        "[run]", "# 配置\n[run]").encode("gb18030"))
    assert case.jinbao("run") == 2
    assert "is not UTF-8 text" in case.printed


def test_out_that_is_a_file_is_a_sentence(case, tmp_path, capsys):
    target = tmp_path / "a-file"
    target.write_text("x", "utf-8")
    assert case.jinbao("run") == 0
    assert case.jinbao("report", "--out", str(target)) == 2
    assert "is a file" in case.printed
    capsys.readouterr()
    assert main(["estate", "build", "--persons", "10", "--out", str(target)]) == 2
    assert "is a file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["estate", "build", "--persons", "-5", "--out", str(tmp_path / "e")])
    assert exit_.value.code == 2 and "not between 1" in capsys.readouterr().err


def test_a_second_run_waits_then_refuses_with_a_sentence(case):
    from loaders.run_lock import run_lock

    with run_lock(f"sqlite:///{case.root / 'w.db'}", "jinbao run (the first)", 0):
        assert case.jinbao("run") == 2
    assert "the warehouse is in use by jinbao run (the first)" in case.printed
    assert case.jinbao("run") == 0  # once the first has finished


def test_an_unreachable_source_is_retried_named_and_recorded(case):
    case.set_config('url = "sqlite:///' + str(case.estate / "maternity.db") + '"',
                    f'url = "postgresql+psycopg://etl:{SECRET}@127.0.0.1:1/maternity"\n'
                    "connect_timeout = 2")
    assert case.jinbao("run") == 2
    assert "source maternity: cannot read" in case.printed
    assert case.jinbao("status") == 0
    assert "recent failures" in case.printed and "maternity" in case.printed
    assert case.jinbao("status", "--json") == 0
    assert '"stage": "stage"' in case.printed
    assert_clean(case)


@pytest.mark.postgres
def test_the_run_summary_never_shows_a_password(case, pg_url, monkeypatch):
    user = "jinbao_pw_user"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP ROLE IF EXISTS {user}"))
        conn.execute(text(f"CREATE ROLE {user} LOGIN SUPERUSER PASSWORD '{SECRET}'"))
    try:
        url = pg_url.replace("postgres@", f"{user}:{SECRET}@")
        monkeypatch.setenv("JINBAO_TEST_WAREHOUSE", url)
        case.set_config('url = "sqlite:///w.db"', 'url = "${JINBAO_TEST_WAREHOUSE}"')
        assert case.jinbao("run") == 0
        assert "warehouse: postgresql+psycopg://jinbao_pw_user:***@" in case.printed
        assert case.jinbao("status") == 0 and case.jinbao("doctor", "--no-airflow") in (0, 2)
        assert_clean(case)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP OWNED BY {user}"))
            conn.execute(text(f"DROP ROLE {user}"))
        admin.dispose()


@pytest.mark.postgres
def test_names_that_are_the_word_null_survive_a_postgresql_warehouse(case, pg_url):
    case.set_config('url = "sqlite:///w.db"', f'url = "{pg_url}"')
    case.set_config("[run]", '[survivorship]\nsource_priority = ["maternity"]\n'
                             'name = ["source_priority"]\n[run]')  # maternity's name wins
    assert case.jinbao("run") == 0
    # two people are renamed in maternity: their golden records are recomputed from their rows
    # read back from the warehouse (COPY ... TO, CSV)
    alone = [k for (k,) in case.warehouse(
        "SELECT source_key FROM source_record WHERE source_system = 'maternity' AND outcome = "
        "'accepted' ORDER BY 1 LIMIT 2")]
    for key, word in zip(alone, ("NULL", "NA"), strict=True):
        case.sql("maternity", "UPDATE sy_cbry SET xm = ?, gxsj = '2025-06-01 00:00:00' "
                              "WHERE grbh = ?", params=(word, key))
    assert case.jinbao("run") == 0
    assert case.jinbao("run", "--since", "1900-01-01") == 0  # and every later run
    golden = {n for (n,) in case.warehouse(
        "SELECT p.name FROM person p JOIN source_record s ON s.id_number = p.id_number "
        "WHERE s.source_system = 'maternity' AND s.source_key IN (:a, :b)", a=alone[0],
        b=alone[1])}
    assert golden == {"NULL", "NA"}  # the words, not SQL NULL
    assert case.warehouse("SELECT count(*) FROM source_record WHERE name IS NULL AND outcome = "
                          "'accepted'") == [(0,)]


@pytest.mark.postgres
@pytest.mark.parametrize("trouble", ["read-only", "no CREATE rights", "unreachable"])
def test_a_warehouse_that_cannot_be_used_is_a_sentence(case, pg_url, trouble):
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    database = pg_url.rsplit("/", 1)[1]
    url = pg_url
    with admin.connect() as conn:
        if trouble == "read-only":
            conn.execute(text(f"ALTER DATABASE {database} SET default_transaction_read_only = on"))
        elif trouble == "no CREATE rights":
            conn.execute(text("DROP ROLE IF EXISTS jinbao_reader"))
            conn.execute(text("CREATE ROLE jinbao_reader LOGIN"))
            conn.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
            url = pg_url.replace("postgres@", "jinbao_reader@")
        else:
            url = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
    admin.dispose()
    case.set_config('url = "sqlite:///w.db"', f'url = "{url}"')
    try:
        assert case.jinbao("run") == 2
        assert "error: the warehouse cannot be used: " in case.printed
        hint = {"read-only": "read-only", "no CREATE rights": "lacks a right",
                "unreachable": "refuses connections"}[trouble]
        assert hint in case.printed
        assert_clean(case)
    finally:
        if trouble == "no CREATE rights":
            admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text("DROP OWNED BY jinbao_reader"))
                conn.execute(text("DROP ROLE jinbao_reader"))
            admin.dispose()


def test_a_source_that_accepts_and_never_answers_times_out(case):
    silent = subprocess.Popen([sys.executable, "-c", (
        "import socket,time\ns=socket.socket();s.bind(('127.0.0.1',0));s.listen(9)\n"
        "print(s.getsockname()[1],flush=True)\nc=[]\nwhile True: c.append(s.accept())")],
        stdout=subprocess.PIPE, text=True)
    try:
        port = silent.stdout.readline().strip()
        case.set_config('url = "sqlite:///' + str(case.estate / "maternity.db") + '"',
                        f'url = "postgresql+psycopg://postgres@127.0.0.1:{port}/m"\n'
                        "connect_timeout = 2")
        assert case.jinbao("run") == 2
        assert "source maternity: cannot read" in case.printed and "timeout" in case.printed
    finally:
        silent.kill()


def test_staging_files_go_once_the_run_committed(case):
    assert case.jinbao("run") == 0
    staging = case.root / "staging"
    assert not list(staging.rglob("*.parquet"))  # full IDs and names: gone at commit
    assert list(staging.glob("*/manifests/*.json"))  # counts stay a while
    case.set_config("buckets = 2", "buckets = 2\nretention_days = 1")
    assert case.jinbao("run", "--since", "1900-01-01") == 0
    assert list(staging.rglob("*.parquet"))  # retained for a day
    from jinbao.staging import sweep

    later = __import__("time").time() + 2 * 86400
    sweep(staging, 1, 7, now=later)
    assert not list(staging.rglob("*.parquet"))
    sweep(staging, 1, 7, now=later + 8 * 86400)
    assert not [p for p in staging.iterdir() if p.is_dir()]
    (staging / "not-a-run").mkdir()
    (staging / "not-a-run" / "keep.txt").write_text("x", "utf-8")
    sweep(staging, 0, 0, now=later + 30 * 86400)
    assert (staging / "not-a-run" / "keep.txt").exists()  # only folders marked as a run's


def test_workers_end_with_their_parent(case, tmp_path):
    import signal
    import time

    big = tmp_path / "big"
    build_estate(3000, 2, big)
    config = case.config.read_text("utf-8").replace(str(case.estate), str(big))
    (tmp_path / "big.toml").write_text(config, "utf-8")
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "false"}
    parent = subprocess.Popen([JINBAO, "run", "--config", str(tmp_path / "big.toml")], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def descendants() -> tuple[list[int], list[int]]:
        """The run's children (the fork server, the resource tracker) and their children (the
        workers the server forked)."""
        parents = {}
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines()
                              if ":\t" in line)
            except OSError:
                continue
            parents[int(status.parent.name)] = int(fields.get("PPid", "0").strip() or 0)
        first = [p for p, pp in parents.items() if pp == parent.pid]
        return first, [p for p, pp in parents.items() if pp in first]

    deadline = time.time() + 60
    while len(descendants()[1]) < 2 and time.time() < deadline:
        time.sleep(0.2)
    first, second = descendants()
    workers = first + second
    assert len(second) >= 2, "the run never started its workers"
    os.kill(parent.pid, signal.SIGKILL)  # the parent only, as a crash or the OOM killer would
    parent.wait()
    deadline = time.time() + 20
    while any(Path(f"/proc/{w}").exists() and "Z" not in Path(f"/proc/{w}/stat").read_text()
              .split()[2] for w in workers) and time.time() < deadline:
        time.sleep(0.2)
    alive = [w for w in workers if Path(f"/proc/{w}").exists()
             and Path(f"/proc/{w}/stat").read_text().split()[2] != "Z"]
    assert alive == [], "workers outlived their parent"


def test_the_readme_names_every_command():
    readme = (REPO / "README.md").read_text("utf-8")
    for command in ("jinbao doctor", "jinbao db upgrade", "jinbao config schema", "--json",
                    "--debug", "--version"):
        assert command in readme


@pytest.mark.postgres
def test_a_locked_source_table_is_unavailable_not_a_hang(case, pg_url):
    import time

    from estate import write_database

    with sqlite3.connect(case.estate / "maternity.db") as conn:
        conn.row_factory = sqlite3.Row
        rows = [dict(r) for r in conn.execute("SELECT * FROM sy_cbry")]
    write_database("maternity", pg_url, {"sy_cbry": rows})
    case.set_config('url = "sqlite:///' + str(case.estate / "maternity.db") + '"',
                    f'url = "{pg_url}"\nconnect_timeout = 2')
    holder = create_engine(pg_url).connect()
    holder.execute(text("LOCK TABLE sy_cbry IN ACCESS EXCLUSIVE MODE"))  # held: no commit
    try:
        began = time.monotonic()
        assert case.jinbao("run") == 2
        assert time.monotonic() - began < 60
        assert "source maternity: cannot read" in case.printed and "lock" in case.printed
    finally:
        holder.rollback()
        holder.close()
    assert case.jinbao("run") == 0  # once the lock is gone
