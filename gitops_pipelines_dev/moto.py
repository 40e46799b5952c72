"""A moto server (local AWS API) on a free loopback port, one per environment."""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

from gitops_pipelines_dev.ports import free_port, wait_for_http

REGION = "us-east-1"
# moto accepts any credentials; these are distinctive so masking them never hides an ordinary word in a log.
ACCESS_KEY_ID = "AKIAMOTOLOCALTEST"
SECRET_ACCESS_KEY = "moto-local-secret-not-real"


class MotoServer:
    """Starts `moto_server` as a process; `reset()` wipes its state between tests."""

    def __init__(self, name: str, port: int | None = None, log_dir: Path | None = None):
        self.name = name
        self.port = port or free_port()
        self.log_dir = log_dir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "MotoServer":
        exe = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
        if exe is None:
            raise RuntimeError("moto_server not found: install the dev extras (pip install -e '.[dev]')")
        log = open(self.log_dir / f"moto-{self.name}.log", "wb") if self.log_dir else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        wait_for_http(self.url + "/moto-api/", timeout=60, proc=self.proc)
        return self

    def reset(self) -> None:
        req = urllib.request.Request(self.url + "/moto-api/reset", method="POST", data=b"")
        urllib.request.urlopen(req, timeout=10).read()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def boto3_client(self, service: str):
        import boto3

        return boto3.client(
            service, endpoint_url=self.url, region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY,
        )

    def create_bucket(self, bucket: str) -> None:
        self.boto3_client("s3").create_bucket(Bucket=bucket)

    def aws_env(self) -> dict[str, str]:
        """Environment variables that point the AWS provider, S3 backend and boto3 at this server."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
        }


def stop_all(servers) -> None:
    for s in servers:
        s.stop()

