"""`flask --app app kq …`: demo salon, users, checklists, the ledger, benchmark data."""
import click
from flask.cli import AppGroup

from kq.extensions import db
from kq.models import ROLES, Store, User

kq_cli = AppGroup("kq", help="Keqing commands.")


@kq_cli.command("demo")
@click.option("--customers", default=1000, show_default=True, help="Customers in the main store.")
@click.option("--seed", default=20261122, show_default=True)
def demo(customers, seed):
    """Load the demo salon, only when the database has no stores yet."""
    from kq.demo import DEMO_PASSWORD, load_demo

    if db.session.scalar(db.select(Store.id).limit(1)) is not None:
        click.echo("The database already has data; the demo salon was not loaded.")
        return
    summary = load_demo(customers=customers, seed=seed)
    click.echo(f"Demo salon loaded: {summary}")
    click.echo(f"Sign in as owner, manager, beautician1 … beautician6 (main store), "
               f"manager2, beautician7 (second store); password {DEMO_PASSWORD}")


@kq_cli.command("create-user")
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True, help="Name shown to colleagues.")
@click.option("--role", type=click.Choice(ROLES), default="beautician", show_default=True)
@click.option("--store", "store_id", type=int, help="Store id; omit to create the first store.")
@click.option("--store-name", help="Name for a new store when none exists yet.")
@click.password_option()
def create_user(username, display_name, role, store_id, store_name, password):
    """Create a staff account (and the first store if the database has none)."""
    username = username.strip().lower()
    if db.session.scalar(db.select(User.id).where(User.username == username)):
        raise click.ClickException(f"username {username!r} is taken")
    from flask_babel import force_locale

    from kq.passwords import password_problem

    with force_locale("en"):
        if problem := password_problem(password, username):
            raise click.ClickException(f"password refused: {problem}")
    if store_id is None:
        if db.session.scalar(db.select(Store.id).limit(1)) is not None:
            raise click.ClickException("--store is required once a store exists")
        if not store_name:
            raise click.ClickException("--store-name is required to create the first store")
        store = Store(name=store_name)
        db.session.add(store)
        db.session.flush()
        from kq.scripts import seed_scripts

        seed_scripts(store)  # a new store starts with the script library (话术)
    else:
        store = db.session.get(Store, store_id)
        if store is None:
            raise click.ClickException(f"no store with id {store_id}")
    user = User(username=username, display_name=display_name, role=role, store_id=store.id)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    click.echo(f"Created {role} {username} in store {store.id} ({store.name}).")


def _check_day_and_store(day, store_id):
    from datetime import date

    if day:
        try:
            date.fromisoformat(day)
        except ValueError:
            raise click.BadParameter("use YYYY-MM-DD", param_hint="--date") from None
    if store_id is not None and db.session.get(Store, store_id) is None:
        raise click.ClickException(f"no store with id {store_id}")


tasks_cli = AppGroup("tasks", help="Daily checklists.")
kq_cli.add_command(tasks_cli)


@tasks_cli.command("generate")
@click.option("--date", "day", help="Local date YYYY-MM-DD; default: each store's today.")
@click.option("--store", "store_id", type=int, help="One store; default: every store.")
def tasks_generate(day, store_id):
    """Generate the checklists (safe to run again: nothing is duplicated)."""

    from kq.jobs import generate_checklists

    _check_day_and_store(day, store_id)
    for sid, created in generate_checklists(store_id, day).items():
        click.echo(f"store {sid}: {created} new items")


ledger_cli = AppGroup("ledger", help="The reward/penalty ledger.")
kq_cli.add_command(ledger_cli)


@ledger_cli.command("run")
@click.option("--date", "day", help="Local date YYYY-MM-DD; default: each store's yesterday "
              "(a complete day). The six days before it, and every day since the last day "
              "counted, are looked at too.")
@click.option("--from", "first", help="Catch up: count every day from this date YYYY-MM-DD.")
@click.option("--store", "store_id", type=int, help="One store; default: every store.")
def ledger_run(day, first, store_id):
    """Count rewards and penalties (safe to run again: nothing is counted twice)."""
    from datetime import date, timedelta

    from kq.jobs import run_ledgers
    from kq.services.ledger import MAX_CATCH_UP_DAYS, run_ledger

    _check_day_and_store(day, store_id)
    _check_day_and_store(first, None)
    if first is None:
        results = run_ledgers(store_id, day)
    else:
        results = {}
        query = db.select(Store).order_by(Store.id)
        if store_id is not None:
            query = query.where(Store.id == store_id)
        for store in db.session.scalars(query).all():
            last = date.fromisoformat(day) if day else store.today() - timedelta(days=1)
            start = date.fromisoformat(first)
            if not timedelta(0) <= last - start <= timedelta(days=MAX_CATCH_UP_DAYS):
                raise click.BadParameter(f"--from must be on or before the date and within "
                                         f"{MAX_CATCH_UP_DAYS} days of it", param_hint="--from")
            results[store.id] = run_ledger(store, last, start=start)
    for sid, created in results.items():
        click.echo(f"store {sid}: {created['rewards']} new rewards, "
                   f"{created['penalties']} new penalties")


reports_cli = AppGroup("reports", help="Printed reports.")
kq_cli.add_command(reports_cli)


@reports_cli.command("cleanup")
@click.option("--days", type=int, help="Keep this many days (default: REPORT_RETENTION_DAYS).")
def reports_cleanup(days):
    """Delete printed reports older than the retention period, with their files."""
    from kq.services.printing import cleanup

    click.echo(f"{cleanup(days)} old reports deleted")


@kq_cli.command("schedule")
def schedule():
    """Book the daily 05:00 checklist run in Redis (then run `rq worker --with-scheduler kq`)."""
    from kq.jobs import schedule_daily
    from kq.queue import redis_errors

    try:
        when = schedule_daily()
    except redis_errors() as error:
        raise click.ClickException(f"Redis did not answer ({error}); a worker books the run "
                                   f"when it starts") from None
    if when is None:
        raise click.ClickException("REDIS_URL is not set; use cron with `kq tasks generate`")
    click.echo(f"next daily run at {when.isoformat()}")


SIZES = {"store": (20000, 200000, 25, 1), "chain": (20000, 200000, 25, 50)}


@kq_cli.command("bench-data")
@click.option("--size", type=click.Choice(sorted(SIZES)), help="A named size (see README).")
@click.option("--customers", type=int, help="Customers per store.")
@click.option("--visits", type=int, help="Visits in all.")
@click.option("--staff", type=int, help="Beauticians per store.")
@click.option("--stores", type=int, help="Stores.")
@click.option("--seed", default=7, show_default=True)
def bench_data(size, customers, visits, staff, stores, seed):
    """Fill the database with synthetic salons for benchmarks (adds to what is there)."""
    from kq.benchdata import fill

    base = SIZES[size or "store"]
    values = [v if v is not None else d
              for v, d in zip((customers, visits, staff, stores), base, strict=True)]
    if any(v <= 0 for v in values):
        raise click.BadParameter("counts must be positive")
    customers, visits, staff, stores = values
    if size == "chain" and visits == base[1]:
        visits = 10_000_000
    fill(customers, visits, staff, stores, seed=seed, log=click.echo)


customers_cli = AppGroup("customers", help="Customer cards.")
kq_cli.add_command(customers_cli)


@customers_cli.command("recompute")
@click.option("--store", "store_id", type=int, help="One store; default: every store.")
@click.option("--search-keys", is_flag=True, help="Also rebuild every card's search keys.")
def customers_recompute(store_id, search_keys):
    """Re-score key/general and visit-frequency bands (and optionally search keys)."""
    from kq.jobs import recompute_classifications

    if store_id is not None and db.session.get(Store, store_id) is None:
        raise click.ClickException(f"no store with id {store_id}")
    if search_keys:
        from kq.models import Customer
        from kq.services.customers import refresh_search_keys

        query = db.select(Customer)
        if store_id is not None:
            query = query.where(Customer.store_id == store_id)
        for customer in db.session.scalars(query):
            refresh_search_keys(customer)
        db.session.commit()
    for sid, result in recompute_classifications(store_id).items():
        click.echo(f"store {sid}: {result['customers']} customers, {result['key']} key "
                   f"(score threshold {result['threshold']})")


@kq_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--store", "store_id", type=int, required=True)
@click.option("--confirm", is_flag=True, help="Write; without it, a dry run that writes nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the preview as one JSON object.")
@click.option("--locale", default="en", show_default=True, help="Language of the messages.")
def import_file(path, store_id, confirm, as_json, locale):
    """Import customers (and visits, cards) from an .xlsx or CSV file into a store."""
    import json
    from pathlib import Path

    from flask import current_app
    from flask_babel import force_locale

    from kq.services import importing

    store = db.session.get(Store, store_id)
    if store is None:
        raise click.ClickException(f"no store with id {store_id}")
    data = Path(path).read_bytes()
    by = db.session.scalar(db.select(User).where(User.store_id == store.id,
                                                 User.role.in_(("manager", "owner")))
                           .order_by(User.id))
    with current_app.test_request_context("/cli/import"), force_locale(locale):
        try:
            if confirm:
                result = importing.run(store, data, by, file_name=Path(path).name)
                db.session.commit()
            else:
                result = importing.preview(store, data, file_name=Path(path).name)
        except importing.ImportRefused as refused:
            db.session.rollback()
            message = importing.describe(refused.code, refused.params)
            if as_json:
                click.echo(json.dumps({"error": refused.code, "message": message},
                                      ensure_ascii=False))
                raise SystemExit(1)
            raise click.ClickException(message) from None
        body = importing.as_json(result)
    if as_json:
        click.echo(json.dumps(body, ensure_ascii=False))
        return
    verb = "Imported" if confirm else "Dry run (nothing written)"
    click.echo(f"{verb}: {body['new']} new, {body['merged']} merged, {body['unchanged']} "
               f"unchanged, {body['skipped']} skipped, {len(body['errors'])} errors, "
               f"{len(body['warnings'])} warnings; visits {body['visits']['new']} new")
    for kind in ("errors", "warnings"):
        for item in body[kind]:
            sheet = f"{item['sheet']} " if item.get("sheet") else ""
            click.echo(f"  {kind[:-1]}: {sheet}row {item['row']}, {item['column'] or '-'}: "
                       f"{item['message']}")
