"""The schema migrations go up, down and up again on both databases, and match the models."""

from __future__ import annotations

import uuid

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import app.models  # noqa: F401
from app.db import MIGRATIONS_DIR, make_engine


def _config(connection: object) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def test_migrations_round_trip_and_match_the_models(database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fresh = f"politely_migrations_{uuid.uuid4().hex[:8]}"
    if database_url.startswith("sqlite"):
        database_url = f"sqlite:///{tmp_path / 'fresh.db'}"
        engine = make_engine(database_url)
    else:
        import psycopg

        base = database_url.rsplit("/", 1)[0]
        with psycopg.connect(
            database_url.replace("postgresql://", "postgresql://", 1), autocommit=True
        ) as admin:
            admin.execute("DROP DATABASE IF EXISTS politely_migrations_test WITH (FORCE)")
            admin.execute("CREATE DATABASE politely_migrations_test")
        engine = make_engine(f"{base}/politely_migrations_test")
    try:
        for target in ("head", "base", "head"):
            with engine.begin() as connection:
                action = command.upgrade if target == "head" else command.downgrade
                action(_config(connection), target)
        with engine.connect() as connection:
            differences = compare_metadata(
                MigrationContext.configure(connection), SQLModel.metadata
            )
        # Only differences that matter: a missing table, column or index is a real gap.
        real = [
            d
            for d in differences
            if d[0] in ("add_table", "add_column", "remove_table", "remove_column", "add_index")
        ]
        assert real == []
    finally:
        engine.dispose()
        if not database_url.startswith("sqlite"):
            with psycopg.connect(database_url.rsplit("/", 1)[0] + "/test", autocommit=True) as a:
                a.execute(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')
