"""A moto server (local AWS API) on a free loopback port, one per environment."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gitops_pipelines_dev.ports import free_port, wait_for_http

REGION = "us-east-1"
# moto accepts any credentials; these are distinctive so masking them never hides an ordinary word in a log.
ACCESS_KEY_ID = "AKIAMOTOLOCALTEST"
SECRET_ACCESS_KEY = "moto-local-secret-not-real"
# the credential scope of an AWS Signature V4 `Authorization` header: Credential=AKID/date/region/service/aws4_request
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/[^/]+/([^/]+)/aws4_request")


@dataclass(frozen=True)
class RecordedRequest:
    """One request a moto server answered, and the access key id that signed it (None: unsigned)."""

    method: str
    url: str
    service: str | None
    access_key_id: str | None


class Recording:
    """The requests a server answered while `MotoServer.recording()` was on (moto's own request recorder)."""

    def __init__(self, server: "MotoServer"):
        self.server = server

    def requests(self) -> list[RecordedRequest]:
        with urllib.request.urlopen(self.server.url + "/moto-api/recorder/download-recording", timeout=10) as resp:
            text = resp.read().decode()
        seen = []
        for line in filter(None, text.splitlines()):
            entry = json.loads(line)
            headers = {k.lower(): v for k, v in entry.get("headers", {}).items()}
            signed = _CREDENTIAL.search(headers.get("authorization", ""))
            seen.append(RecordedRequest(method=entry.get("method", ""), url=entry.get("url", ""),
                                        service=signed.group(2) if signed else None,
                                        access_key_id=signed.group(1) if signed else None))
        return seen

    def access_key_ids(self) -> set[str]:
        """Every access key id that signed a request, unsigned requests left out."""
        return {r.access_key_id for r in self.requests() if r.access_key_id}


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
        # moto's recorder writes to ./moto_recording unless told otherwise: keep it out of the working folder
        folder = self.log_dir or Path(tempfile.mkdtemp(prefix=f"moto-{self.name}-"))
        env = {**os.environ, "MOTO_RECORDER_FILEPATH": str(folder / f"moto-{self.name}.recording.jsonl")}
        self.proc = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        )
        wait_for_http(self.url + "/moto-api/", timeout=60, proc=self.proc)
        return self

    def reset(self) -> None:
        self._moto_api("reset")

    @contextmanager
    def recording(self) -> Iterator[Recording]:
        """Records every request the server answers inside the block, each with the access key id that signed it."""
        self._moto_api("recorder/reset-recording")
        self._moto_api("recorder/start-recording")
        try:
            yield Recording(self)
        finally:
            self._moto_api("recorder/stop-recording")

    def _moto_api(self, action: str) -> None:
        req = urllib.request.Request(f"{self.url}/moto-api/{action}", method="POST", data=b"")
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



def start_clouds(stack, log_dir: Path, names: tuple[str, ...] = ("test", "prod", "sandbox")) -> dict[str, MotoServer]:
    """One moto server per environment, each stopped when `stack` (an ExitStack) closes; the test environment's
    state bucket is created, as the sample's gitops.yaml expects it."""
    servers = {}
    for name in names:
        servers[name] = MotoServer(name, log_dir=log_dir).start()
        stack.callback(servers[name].stop)
    if "test" in servers:
        servers["test"].create_bucket("tfstate-test")
    return servers
