"""Real processes for end-to-end tests: the service under uvicorn on a loopback port, and the ``jamsos`` CLI."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
UVICORN = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1"]


async def until(condition: Callable[[], bool], what: str, within: float = 15.0) -> None:
    """Let the event loop run until `condition` holds: a wait on a state, not on time. `within` seconds
    without it fail the test (a broken service fails, it does not hang)."""
    try:
        async with asyncio.timeout(within):
            while not condition():  # noqa: ASYNC110 - the states waited on have no event of their own
                await asyncio.sleep(0.005)
    except TimeoutError:
        raise AssertionError(f"{what}: not within {within} s") from None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def service_env(database_url: str, data_dir: Path, **settings: str) -> dict[str, str]:
    """Environment for a ``jamsos`` process: JAMSOS_* variables from keyword arguments."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAMSOS_")}
    env.update(
        {
            "JAMSOS_ENV": "test",
            "JAMSOS_DATABASE_URL": database_url,
            "JAMSOS_DATA_DIR": str(data_dir),
            "JAMSOS_LOG_JSON": "false",
            "AUTHLIB_INSECURE_TRANSPORT": os.environ.get("AUTHLIB_INSECURE_TRANSPORT", "1"),
        }
    )
    env.update({f"JAMSOS_{k.upper()}": v for k, v in settings.items()})
    return env


def jamsos(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``jamsos`` command line as a separate process."""
    return subprocess.run(  # noqa: S603 - our own CLI with fixed arguments
        [sys.executable, "-m", "api.cli", *args],
        env=env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def jamsos_here(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``jamsos`` run by :func:`api.cli.main` in this process with `env`'s ``JAMSOS_*`` settings (the others
    unset), `stdin` as its standard input: what :func:`jamsos` returns, without a new interpreter and its
    imports (about a second of CPU a call).

    For tests of what a command does, or that need one done. The process itself (the exit status the OS sees,
    stdin, nothing but the result on stdout) is :func:`jamsos`'s to test. Not from inside a running event loop
    (an async test): a command runs its own.
    """
    from api.cli import main
    from api.settings import get_settings

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("JAMSOS_")]:
            patch.delenv(name)
        for name, value in env.items():
            if name.startswith("JAMSOS_"):
                patch.setenv(name, value)
        patch.setattr(sys, "stdin", io.StringIO(stdin or ""))
        get_settings.cache_clear()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(list(args))
                except SystemExit as exc:  # argparse's usage errors
                    code = exc.code if isinstance(exc.code, int) else 1
        finally:
            get_settings.cache_clear()
    return subprocess.CompletedProcess(["jamsos", *args], code, out.getvalue(), err.getvalue())


def jamsos_worker(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    """A ``jamsos worker`` process (the Procfile's ``worker:``) with `env`, its output appended to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own command line, fixed arguments
            [str(Path(sys.executable).with_name("jamsos")), "worker", *args], env=env, stdout=out, stderr=out
        )


def jamsos_json(env: dict[str, str], *args: str) -> Any:
    return json_out(jamsos(env, *args))


def json_out(done: subprocess.CompletedProcess[str]) -> Any:
    """The JSON a successful ``jamsos`` call printed."""
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@contextlib.contextmanager
def live_server(env: dict[str, str], port: int) -> Iterator[str]:
    """``uvicorn api.app:create_app`` on 127.0.0.1:`port` until the block ends; yields the base URL."""
    log = Path(env["JAMSOS_DATA_DIR"]) / f"uvicorn-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 - our own service with fixed arguments
            [*UVICORN, "--port", str(port), "--log-level", "warning"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the service exited with {process.returncode}: {log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the service did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def npm_installed(folder: Path, what: str) -> Path:
    """`folder`'s node_modules, installed with ``npm ci`` from its lockfile when missing or stale.

    Under a lock file beside it: both pytest-xdist workers ask for it, and a second ``npm ci`` would delete
    the modules the first worker's Node processes are running from. Without node and npm the test is
    skipped, and fails under CI (which must run `what`)."""
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"node and npm are needed for {what} (Node 20+); CI must run it", pytrace=False)
        pytest.skip(f"node and npm are needed for {what} (Node 20+)")
    modules = folder / "node_modules"
    installed = modules / ".package-lock.json"
    with (folder / ".npm-ci.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not installed.exists() or installed.stat().st_mtime < (folder / "package-lock.json").stat().st_mtime:
                done = subprocess.run(  # noqa: S603 - fixed arguments
                    [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                    cwd=folder,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if done.returncode != 0:
                    pytest.fail(
                        f"npm ci failed in {folder}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}", pytrace=False
                    )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return modules
