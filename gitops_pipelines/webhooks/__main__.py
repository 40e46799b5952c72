"""Run the receiver: `python -m gitops_pipelines.webhooks --host 127.0.0.1 --port 8088 --db deliveries.db`.

The secret comes from GITHUB_WEBHOOK_SECRET only, so it never shows in `ps` or shell history.
"""

from __future__ import annotations

import argparse
import os
import sys

SECRET_ENV = "GITHUB_WEBHOOK_SECRET"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gitops_pipelines.webhooks",
        description=f"Receive signed GitHub webhooks and store them for the sensors. Secret: ${SECRET_ENV}.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--db", required=True, help="SQLite file of received deliveries (created if missing)")
    parser.add_argument("--max-body", type=int, default=None, help="largest accepted body in bytes (default 25 MB)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    secret = os.environ.get(SECRET_ENV, "")
    if not secret.strip():
        print(
            f"error: {SECRET_ENV} is not set. Set it to the secret configured on the GitHub webhook; "
            "the receiver refuses to run without it, since it could not tell GitHub's deliveries from anyone's.",
            file=sys.stderr,
        )
        return 2

    import uvicorn

    from gitops_pipelines.core.github.webhook_store import WebhookStore
    from gitops_pipelines.webhooks.app import DEFAULT_MAX_BODY, create_app

    app = create_app(secret, WebhookStore(args.db), max_body=args.max_body or DEFAULT_MAX_BODY)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, server_header=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
