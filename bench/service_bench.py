"""The 12333 look-up under load: `jinbao serve` over a warehouse of a million source rows, 50
clients at once asking for persons by number (a third of them in the old 15-digit form or with
a lower-case x, as callers give them), against the floor of the same two reads (the person,
their enrollments) sent straight to PostgreSQL by as many clients.

    .venv/bin/python bench/service_bench.py [--rows 1000000] [--seconds 30] [--clients 50]
        [--warehouse postgresql+psycopg://.../db]   # an existing warehouse: no build

Without --warehouse it builds the simulated estate (SQLite legacy systems) and runs the
pipeline into a fresh PostgreSQL database, kept for the next time. The load comes from wrk
(Debian's; a Lua script draws the numbers and reads p50 and p95) and the floor from pgbench
(its per-transaction log gives the same percentiles), each on the same machine as the server,
with the same clients. Prints a table and writes <out>/service.json; nothing is asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/{}"
PASSWORD = "bench-operator-password"
LUA = """
local numbers = {}
for line in io.lines("%(numbers)s") do numbers[#numbers + 1] = line end
wrk.headers["Authorization"] = "Bearer %(token)s"
request = function()
  return wrk.format("GET", "/api/v1/persons/" .. numbers[math.random(#numbers)])
end
done = function(summary, latency, requests)
  io.write(string.format("JINBAO %%d %%d %%d %%d %%d %%d\\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(95), summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""
PGBENCH = """\\set n random(1, %(count)d)
SELECT * FROM person WHERE id_number = (SELECT id_number FROM bench_numbers WHERE n = :n);
SELECT * FROM enrollment WHERE id_number = (SELECT id_number FROM bench_numbers WHERE n = :n);
"""


def warehouse(rows: int, out: Path) -> str:
    """A PostgreSQL warehouse of about `rows` source rows (built once, then reused)."""
    from sqlalchemy import create_engine, text

    from bench.pipeline_bench import ROWS_PER_PERSON
    from estate import build_estate
    from jinbao.config import load_config
    from jinbao.runner import run_pipeline

    database = f"jinbao_service_bench_{rows}"
    url = SERVER.format(database)
    admin = create_engine(SERVER.format("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"),
                              {"d": database}).first()
        if exists:
            return url
    estate = out / f"service_estate_{rows}"
    shutil.rmtree(estate, ignore_errors=True)
    build_estate(int(rows / ROWS_PER_PERSON), 7, estate)
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {database}_building"))
    cfg = dataclasses.replace(load_config(estate / "jinbao.toml"),
                              warehouse_url=SERVER.format(f"{database}_building"))
    run_pipeline(cfg)
    with admin.connect() as conn:  # complete, then named: a build that died is not reused
        conn.execute(text(f"ALTER DATABASE {database}_building RENAME TO {database}"))
    return url


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sampled_numbers(url: str, count: int, folder: Path) -> tuple[Path, list[str]]:
    """`count` persons' numbers as callers give them (a third as 15 digits or with a lower-case
    x), written one a line for wrk; and the numbers themselves."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        numbers = conn.execute(text("SELECT id_number FROM person TABLESAMPLE SYSTEM (10) "
                                    "LIMIT :n"), {"n": count}).scalars().all()
    engine.dispose()
    rng = random.Random(7)
    given = []
    for number in numbers:
        form = rng.random()
        if form < 0.17 and number[6:8] == "19":
            given.append(number[:6] + number[8:17])
        elif form < 0.34:
            given.append(number.lower())
        else:
            given.append(number)
    path = folder / "numbers.txt"
    path.write_text("\n".join(given) + "\n", encoding="ascii")
    return path, numbers


def service_load(url: str, folder: Path, numbers: Path, clients: int, seconds: int,
                 workers: int) -> dict:
    """wrk against `jinbao serve` over the warehouse: requests/s, p50 and p95 (ms)."""
    import httpx

    config = folder / "jinbao.toml"
    config.write_text(f'[warehouse]\nurl = "{url}"\n[sources.none]\nsystem = "pension"\n'
                      f'url = "sqlite:///none.db"\n', encoding="utf-8")
    jinbao = str(Path(sys.executable).parent / "jinbao")
    subprocess.run([jinbao, "users", "add", "bench.operator", "--role", "operator",
                    "--config", str(config)], input=PASSWORD + "\n", text=True,
                   capture_output=True)
    port = _free_port()
    server = subprocess.Popen([jinbao, "serve", "--config", str(config), "--port", str(port),
                               "--workers", str(workers)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                answer = httpx.post(f"{base}/api/v1/token", data={
                    "username": "bench.operator", "password": PASSWORD})
                break
            except httpx.TransportError:
                time.sleep(0.2)
        token = answer.json()["access_token"]
        script = folder / "lookup.lua"
        script.write_text(LUA % {"numbers": numbers, "token": token}, encoding="utf-8")
        subprocess.run(["wrk", "-t2", f"-c{clients}", "-d5s", "-s", str(script), base],
                       capture_output=True)  # warm the caches and the server's pools
        done = subprocess.run(["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--timeout",
                               "10s", "-s", str(script), base], capture_output=True, text=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    line = next(x for x in done.stdout.splitlines() if x.startswith("JINBAO"))
    requests, micros, p50, p95, bad_status, failed = map(int, line.split()[1:])
    return {"requests": requests, "requests_per_second": round(requests / (micros / 1e6), 1),
            "p50_ms": round(p50 / 1000, 2), "p95_ms": round(p95 / 1000, 2),
            "non_2xx": bad_status, "socket_errors": failed}


def floor_load(url: str, numbers: list[str], folder: Path, clients: int, seconds: int) -> dict:
    """pgbench sending the same two reads straight to PostgreSQL: transactions/s, p50, p95."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_numbers"))
        conn.execute(text("CREATE TABLE bench_numbers (n integer PRIMARY KEY, id_number text)"))
        conn.execute(text("INSERT INTO bench_numbers VALUES (:n, :i)"),
                     [{"n": i, "i": x} for i, x in enumerate(numbers, start=1)])
    engine.dispose()
    script = folder / "lookup.sql"
    script.write_text(PGBENCH % {"count": len(numbers)}, encoding="utf-8")
    database = url.rsplit("/", 1)[1]
    common = ["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-n", "-c", str(clients),
              "-j", "2", "-f", str(script)]
    subprocess.run([*common, "-T", "5", database], capture_output=True, cwd=folder)
    logs = folder / "pgbench_log"
    logs.mkdir(exist_ok=True)
    done = subprocess.run([*common, "-T", str(seconds), "-l", "--log-prefix",
                           str(logs / "tx"), database], capture_output=True, text=True,
                          cwd=folder)
    latencies = [int(line.split()[2]) for path in logs.glob("tx*") for line in
                 path.read_text().splitlines() if line.strip()]
    cuts = statistics.quantiles(latencies, n=100)
    tps = float(next(x for x in done.stdout.splitlines() if x.startswith("tps")).split()[2])
    return {"transactions": len(latencies), "transactions_per_second": round(tps, 1),
            "p50_ms": round(cuts[49] / 1000, 2), "p95_ms": round(cuts[94] / 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="jinbao serve's worker processes (default: one per core)")
    parser.add_argument("--warehouse", help="an existing PostgreSQL warehouse (no build)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out"))
    args = parser.parse_args()
    for tool in ("wrk", "pgbench"):
        if not shutil.which(tool):
            sys.exit(f"service_bench needs {tool}: apt-get install wrk postgresql-client")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    url = args.warehouse or warehouse(args.rows, out)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        numbers_file, numbers = sampled_numbers(url, 10_000, folder)
        service = service_load(url, folder, numbers_file, args.clients, args.seconds,
                               args.workers)
        floor = floor_load(url, numbers, folder, args.clients, args.seconds)
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM source_record")).scalar_one()
        persons = conn.execute(text("SELECT count(*) FROM person")).scalar_one()
    engine.dispose()
    result = {"source_rows": rows, "persons": persons, "clients": args.clients,
              "workers": args.workers,
              "seconds": args.seconds, "service": service, "postgresql_floor": floor,
              "service_share_of_floor_rate": round(
                  service["requests_per_second"] / floor["transactions_per_second"], 3)}
    print(f"{'':28} {'per second':>11} {'p50 ms':>8} {'p95 ms':>8}")
    print(f"{'jinbao serve (look-up)':28} {service['requests_per_second']:>11,.0f} "
          f"{service['p50_ms']:>8.2f} {service['p95_ms']:>8.2f}")
    print(f"{'PostgreSQL, the two reads':28} {floor['transactions_per_second']:>11,.0f} "
          f"{floor['p50_ms']:>8.2f} {floor['p95_ms']:>8.2f}")
    print(f"{rows:,} source rows, {persons:,} persons, {args.clients} clients, "
          f"{args.seconds} s; the service at {result['service_share_of_floor_rate']:.1%} of "
          f"the floor's rate; non-2xx {service['non_2xx']}, socket errors "
          f"{service['socket_errors']}")
    path = out / "service.json"
    path.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"JSON: {path}")


if __name__ == "__main__":
    main()
