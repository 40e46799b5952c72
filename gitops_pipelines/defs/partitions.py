"""One partition per change (pull request): `pr-<number>` (core.vocabulary.change_key); the GitHub sensors add them."""

import dagster as dg

changes = dg.DynamicPartitionsDefinition(name="changes")
