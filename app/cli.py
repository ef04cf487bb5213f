"""The `politely` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable

from app.db import get_engine, migrate, session_scope
from app.organisations.service import create_api_key, create_organisation, get_organisation_by_slug
from app.runtime import Runtime
from app.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        return int(args.handler(args) or 0)
    except Exception as error:  # a readable line, not a traceback, for expected failures
        from app.errors import AppError
        from app.planning.policy import PolicyError

        if isinstance(error, AppError | PolicyError | ValueError):
            print(f"politely: {error}", file=sys.stderr)
            return 2
        raise


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="politely", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="API (and the scheduler unless --no-scheduler)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-scheduler", action="store_true", help="do not send reminders")
    serve.add_argument("--demo", action="store_true", help="add a demo customer and invoices")
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser("worker", help="the scheduler and sender only")
    worker.set_defaults(handler=_worker)

    tick = commands.add_parser("tick", help="run one dunning pass now and print what it did")
    tick.set_defaults(handler=_tick)

    migrate_cmd = commands.add_parser("migrate", help="create or upgrade the database schema")
    migrate_cmd.set_defaults(handler=lambda _: _migrate())

    orgs = commands.add_parser("orgs", help="organisations").add_subparsers(required=True)
    orgs_create = orgs.add_parser("create", help="create an organisation")
    orgs_create.add_argument("slug")
    orgs_create.add_argument("--name")
    orgs_create.set_defaults(handler=_orgs_create)

    keys = commands.add_parser("keys", help="API keys").add_subparsers(required=True)
    keys_create = keys.add_parser("create", help="create an API key (printed on the last line)")
    keys_create.add_argument("--org", required=True)
    keys_create.add_argument("--name", required=True)
    keys_create.set_defaults(handler=_keys_create)
    keys_list = keys.add_parser("list", help="list an organisation's API keys")
    keys_list.add_argument("--org", required=True)
    keys_list.set_defaults(handler=_keys_list)
    keys_revoke = keys.add_parser(
        "revoke", help="revoke an API key by the prefix `keys list` shows"
    )
    keys_revoke.add_argument("--org", required=True)
    keys_revoke.add_argument("--prefix", required=True)
    keys_revoke.set_defaults(handler=_keys_revoke)
    users = commands.add_parser("users", help="admin users").add_subparsers(required=True)
    users_create = users.add_parser(
        "create", help="create an admin user; the password is read from standard input"
    )
    users_create.add_argument("--org", required=True)
    users_create.add_argument("--email", required=True)
    users_create.set_defaults(handler=_users_create)

    imports = commands.add_parser("import", help="bulk import").add_subparsers(required=True)
    import_invoices = imports.add_parser(
        "invoices", help="import customers and invoices from a CSV file (see README)"
    )
    import_invoices.add_argument("file", metavar="FILE.csv")
    import_invoices.add_argument("--org", required=True)
    import_invoices.set_defaults(handler=_import_invoices)
    return parser


def _users_create(args: argparse.Namespace) -> int:
    from app.users.service import create_user

    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass("Password (12 characters or more): ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    migrate()
    with session_scope() as session:
        organisation = get_organisation_by_slug(session, args.org)
        user = create_user(session, organisation=organisation, email=args.email, password=password)
        print(f"created user {user.email} for {organisation.slug}")
    return 0


def _migrate() -> int:
    migrate()
    print("database is up to date")
    return 0


def _orgs_create(args: argparse.Namespace) -> int:
    migrate()
    with session_scope() as session:
        organisation = create_organisation(session, slug=args.slug, name=args.name)
        print(f"created organisation {organisation.slug}")
    return 0


def _keys_create(args: argparse.Namespace) -> int:
    migrate()
    with session_scope() as session:
        organisation = get_organisation_by_slug(session, args.org)
        row, key = create_api_key(session, organisation=organisation, name=args.name)
        print(f"API key {row.name!r} for {organisation.slug} (shown once, keep it safe):")
        print(key)
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    from app.organisations.service import list_api_keys

    migrate()
    with session_scope() as session:
        organisation = get_organisation_by_slug(session, args.org)
        assert organisation.id is not None
        keys = list_api_keys(session, organisation_id=organisation.id)
    print(f"{'PREFIX':<12} {'CREATED':<17} {'REVOKED':<17} NAME")
    for key in keys:
        revoked = f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "-"
        print(f"{key.prefix:<12} {key.created_at:%Y-%m-%d %H:%M} {revoked:<17} {key.name}")
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    from app.organisations.service import revoke_api_keys

    migrate()
    with session_scope() as session:
        organisation = get_organisation_by_slug(session, args.org)
        assert organisation.id is not None
        keys = revoke_api_keys(session, organisation_id=organisation.id, prefix=args.prefix)
        for key in keys:
            print(f"revoked API key {key.prefix} ({key.name}) of {organisation.slug}")
    return 0


def _import_invoices(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.importing.service import import_invoices

    migrate()
    runtime = _runtime()
    report = import_invoices(
        runtime.engine,
        path=Path(args.file),
        organisation=args.org,
        now=runtime.clock.now(),
        progress=_progress_line(),
    )
    print(
        f"{report.rows} rows: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.rejected)} rejected"
    )
    for rejection in report.rejected:
        which = f" (invoice {rejection.invoice})" if rejection.invoice else ""
        print(f"line {rejection.line}{which}: {'; '.join(rejection.reasons)}")
    return 1 if report.rejected else 0


def _progress_line() -> Callable[[int, int], None]:
    """A one-line progress bar on stderr, redrawn with a carriage return at most 10 times a
    second, so a redirected stderr gets a few lines rather than thousands."""
    import time

    last = 0.0

    def show(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if done < total and now - last < 0.1:
            return
        last = now
        filled = 30 * done // max(total, 1)
        bar = "#" * filled + "." * (30 - filled)
        end = "\n" if done >= total else ""
        print(f"\rimporting [{bar}] {done}/{total} rows", end=end, file=sys.stderr, flush=True)

    return show


def _runtime() -> Runtime:

    return Runtime(settings=get_settings(), engine=get_engine())


def _tick(_: argparse.Namespace) -> int:
    migrate()
    report = _runtime().run_pass_blocking()
    for outcome in report.outcomes:
        line = f"{outcome.result:<11} {outcome.invoice:<20} {outcome.step or '-':<14}"
        print(line + (f" {outcome.detail}" if outcome.detail else ""))
    when = f"{report.started_at:%Y-%m-%d %H:%M} UTC"
    print(f"{len(report.sent)} sent, {len(report.outcomes)} actions at {when}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_app

    migrate()
    if args.demo:
        from app.demo import add_demo_data

        add_demo_data(args.host, args.port)
    app = create_app(run_scheduler=not args.no_scheduler, run_background=True)
    # One web process: the scheduler must not start once per web worker.
    uvicorn.run(app, host=args.host, port=args.port, workers=1)
    return 0


def _worker(_: argparse.Namespace) -> int:
    from app.background import start_background

    migrate()

    async def run() -> None:
        scheduler = start_background(_runtime(), dunning=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        scheduler.shutdown(wait=True)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
