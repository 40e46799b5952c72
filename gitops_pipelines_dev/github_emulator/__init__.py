"""A GitHub REST API emulator backed by a real git repository, for tests and the demo (`make run`).

Its answers follow GitHub's published OpenAPI description (the contract folder) so PyGithub works against it
unchanged; its webhooks follow the octokit schemas and are signed like GitHub's.
"""

from .git import GitRepo
from .repo_state import RepoState
from .server import Emulator
from .state import EmulatorState
from .webhooks import Delivery, signature

__all__ = ["Delivery", "Emulator", "EmulatorState", "GitRepo", "RepoState", "signature"]
