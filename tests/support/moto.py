"""moto's server as a real process on a free 127.0.0.1 port: AWS's APIs for the integration tests
(boto3 is never patched; the engine reaches moto over HTTP as it would reach AWS)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

from .postgres import free_port


class MotoServer:
    def __init__(self, env: dict | None = None) -> None:
        """`env`: extra variables for the server process (moto's own settings, such as
        MOTO_SIMPLE_BATCH_FAIL_AFTER)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.env = dict(env or {})

    def start(self, timeout: float = 60.0) -> "MotoServer":
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", **self.env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto's server exited at start (code {self.process.returncode})")
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto's server did not answer on {self.url} within {timeout:.0f}s")
                time.sleep(0.1)
        return self

    def post(self, path: str, body: dict) -> None:
        request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10):
            pass

    def reset(self) -> None:
        self.post("/moto-api/reset", {})
        self.simple_lambda(False)

    def simple_lambda(self, on: bool = True) -> None:
        """moto's simple Lambda (no Docker) answers every invoke with its payload, but takes any
        function name; off (moto's default), a missing function is ResourceNotFoundException."""
        self.post("/moto-api/config", {"lambda": {"use_docker": not on}})

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
