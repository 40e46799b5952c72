"""REST routes, one module per resource. Each module lists (method, path, handler); paths below a repository are
relative to `/repos/{owner}/{repo}` and use Starlette's `{name:path}` where GitHub allows slashes."""

from __future__ import annotations

from . import checks, deployments, git_database, issues, pulls, releases, repos

# checks first: its `/commits/{ref}/check-runs` must match before repos' catch-all `/commits/{ref:path}`.
REPO_ROUTES = [*checks.ROUTES, *repos.ROUTES, *git_database.ROUTES, *pulls.ROUTES, *issues.ROUTES, *releases.ROUTES,
               *deployments.ROUTES]
TOP_ROUTES = [*repos.TOP_ROUTES]
