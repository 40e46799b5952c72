"""One partition per change (pull request): `pr-<number>`; the GitHub sensors add them."""

import dagster as dg

changes = dg.DynamicPartitionsDefinition(name="changes")


def change_key(pr_number: int) -> str:
    """The partition key of a pull request."""
    return f"pr-{pr_number}"
