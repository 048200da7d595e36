"""The service's commands: accounts made from the command line (the password read from standard
input), and `jinbao serve` answering on its port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import written_config

JINBAO = str(Path(sys.executable).parent / "jinbao")


def _jinbao(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([JINBAO, *args], input=stdin, capture_output=True, text=True,
                          timeout=300)


def test_accounts_from_the_command_line_then_served(served, tmp_path):
    config = str(written_config(served, tmp_path / "jinbao.toml"))
    added = _jinbao("users", "add", "clerk.wang", "--role", "operator", "--config", config,
                    stdin="a long enough secret\n")
    assert added.returncode == 0, added.stderr
    listed = _jinbao("users", "list", "--config", config)
    assert "clerk.wang" in listed.stdout and "operator" in listed.stdout
    assert "secret" not in listed.stdout + listed.stderr and "argon2" not in listed.stdout
    for args, said in ((("users", "add", "clerk.wang", "--role", "operator"), "exists already"),
                       (("users", "add", "bad name", "--role", "operator"), "account name"),
                       (("users", "add", "short", "--role", "operator"), "at least 10"),
                       (("users", "disable", "nobody"), "no active account")):
        refused = _jinbao(*args, "--config", config, stdin="tiny\n")
        assert refused.returncode == 2 and said in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([JINBAO, "serve", "--config", config, "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                answer = httpx.post(f"{base}/api/v1/token", data={
                    "username": "clerk.wang", "password": "a long enough secret"})
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert answer.status_code == 200, answer.text
        me = httpx.get(f"{base}/api/v1/me", headers={
            "Authorization": f"Bearer {answer.json()['access_token']}"})
        assert me.json()["name"] == "clerk.wang"
        assert _jinbao("users", "disable", "clerk.wang", "--config", config).returncode == 0
        assert httpx.get(f"{base}/api/v1/me", headers={
            "Authorization": f"Bearer {answer.json()['access_token']}"}).status_code == 401
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
    assert "Traceback" not in errors
