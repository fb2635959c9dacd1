"""The development secrets published in this repository, and the rule that keeps them out of a real deployment.

The embedded shape (SQLite, no DATABASE_URL, no MIMIC_PRODUCTION) runs with these published values so that
`make run` needs no setup. Anyone can read them, so anywhere else they are refused by value: with them a copied
database's client names decrypt and share-link tokens can be forged.
"""

from __future__ import annotations

PUBLISHED_SECRET_KEY = "---embedded-development-only-secret-key-change-me---"
PUBLISHED_FIELD_KEY = "6Mkb1E3ImThFO4fPfS_ebHgit9ZCztvdtHeJ0Kox4nw="


def secret_problems(secret_key: str, field_keys: list[str]) -> list[str]:
    """What is wrong with these secrets for a real deployment; empty when they will do."""
    problems = []
    if not secret_key:
        problems.append("SECRET_KEY is not set")
    elif secret_key == PUBLISHED_SECRET_KEY:
        problems.append("SECRET_KEY is the development key published in the repository")
    if not field_keys:
        problems.append("FIELD_ENCRYPTION_KEYS is not set")
    elif PUBLISHED_FIELD_KEY in field_keys:
        problems.append("FIELD_ENCRYPTION_KEYS contains the development key published in the repository")
    return problems
