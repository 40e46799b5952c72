"""`python -m gitops_pipelines_dev.github_emulator --port N --repo owner/name --git-dir PATH --github-contract DIR`:
serve until interrupted. The contract folder may come from $GITOPS_GITHUB_CONTRACT instead."""

from __future__ import annotations

import argparse
import signal
import threading

from gitops_pipelines_dev.contract import add_contract_argument, contract_from_args

from .server import Emulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gitops_pipelines_dev.github_emulator",
                                     description="GitHub API emulator backed by a local git repository")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--repo", required=True, help="owner/name of the emulated repository")
    parser.add_argument("--git-dir", required=True, help="git repository to serve (created bare if missing)")
    parser.add_argument("--webhook", action="append", default=[], metavar="URL=SECRET",
                        help="deliver webhooks to URL signed with SECRET (repeatable)")
    parser.add_argument("--readme", default="# infrastructure\n", help="first commit's README when the repo is new")
    add_contract_argument(parser)
    args = parser.parse_args(argv)
    owner, _, name = args.repo.partition("/")
    if not owner or not name:
        parser.error("--repo must be owner/name")
    contract = contract_from_args(parser, args)
    emulator = Emulator(contract, port=args.port or None)
    emulator.create_repo(owner, name, {"README.md": args.readme}, git_dir=args.git_dir)
    for hook in args.webhook:
        url, _, secret = hook.partition("=")
        emulator.add_webhook(url, secret)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"GitHub emulator for {args.repo} on {emulator.start()} (git: {args.git_dir})", flush=True)
    stop.wait()
    emulator.stop()


if __name__ == "__main__":
    main()
