"""`flask chat ...` commands."""

import os

import click
from flask.cli import AppGroup

from .extensions import db
from .models import User
from .services import ServiceError, ValidationError, admin_sessions, validation

chat_cli = AppGroup("chat", help="Product chat administration.")


@chat_cli.command("seed-demo")
def seed_demo_command():
    """Create the demo shop's products, its owner and an agent (safe to run again)."""
    from .demo import seed_demo, seed_demo_agent

    email, password = seed_demo()
    agent_email, agent_password = seed_demo_agent()
    click.echo("Demo shop ready.")
    click.echo(f"Admin login: {email} / {password}")
    click.echo(f"Agent login: {agent_email} / {agent_password} (an agent of the demo site)")


ROLE_OPTION = click.option(
    "--role", type=click.Choice(["owner", "manager", "agent"]), default=None, help="owner, manager or agent."
)
SITE_OPTION = click.option(
    "--site", "site_ids", multiple=True, help="A site they work on (repeat for more; none: every site)."
)


def _clean_sites(site_ids):
    from .services import people

    try:
        return people.clean_sites(list(site_ids) if site_ids else None)
    except ValidationError as error:
        raise click.BadParameter(error.message, param_hint="--site") from None


@chat_cli.command("create-admin")
@click.argument("email")
@click.option("--name", default=None, help="Display name (defaults to the email's local part).")
@click.password_option("--password", help="Password (prompted for when omitted).")
@ROLE_OPTION
@SITE_OPTION
def create_admin_command(email, name, password, role, site_ids):
    """Create an admin account (default: owner of every site), or reset its password (which
    ends all its sessions); --role and --site set what they may do, and where."""
    from .services import audit

    try:
        email = admin_sessions.normalise_email(validation.email(email, "email"))
    except ValidationError as error:
        raise click.BadParameter(error.message, param_hint="EMAIL") from None
    if len(password) < admin_sessions.MIN_PASSWORD_LENGTH:
        raise click.BadParameter(
            f"use at least {admin_sessions.MIN_PASSWORD_LENGTH} characters", param_hint="--password"
        )
    all_sites, site_list = _clean_sites(site_ids)
    user = db.session.scalar(db.select(User).filter_by(email=email))
    created = user is None
    if created:
        user = User(email=email, name=name or email.split("@")[0], role=role or "owner")
        db.session.add(user)
    elif name:
        user.name = name
    if role:
        user.role = role
    if created or site_ids:
        user.all_sites, user.sites = all_sites, site_list
    user.set_password(password)
    db.session.flush()
    where = "all sites" if user.all_sites else ", ".join(s.public_id for s in user.sites)
    audit.record(
        "person.created" if created else "person.changed", "person", user.id, f"{email} as {user.role} on {where}"
    )
    db.session.commit()
    if created:
        click.echo(f"Created {user.role} {email} ({where}).")
        return
    # A reset password must not leave a session of the old one open somewhere.
    ended = admin_sessions.end_all(user)
    click.echo(f"Updated admin {email}; ended {_sessions(ended)}.")


def _sessions(count):
    return f"{count} session{'' if count == 1 else 's'}"


def _admin_by_email(email):
    user = admin_sessions.find_admin(email)
    if user is None:
        raise click.BadParameter(
            f"no admin with the email {admin_sessions.normalise_email(email)!r}", param_hint="EMAIL"
        )
    return user


@chat_cli.command("invite")
@click.argument("email")
@click.option("--role", type=click.Choice(["owner", "manager", "agent"]), default="agent", show_default=True)
@SITE_OPTION
def invite_command(email, role, site_ids):
    """Invite EMAIL to the team: prints the acceptance link (the mail carries it too; valid
    INVITATION_DAYS, once)."""
    from .services import people

    try:
        invitation, url = people.invite(None, email, role, list(site_ids) if site_ids else None)
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    where = "all sites" if invitation.all_sites else ", ".join(site_ids)
    click.echo(
        f"Invited {invitation.email} as {invitation.role} on {where}; the mail goes out with `flask chat send-mail`."
    )
    click.echo(f"Invitation link: {url}")


@chat_cli.command("deactivate-admin")
@click.argument("email")
def deactivate_admin_command(email):
    """Lock an admin out: every session ends now, logins and API tokens are refused."""
    user = _admin_by_email(email)
    was_active = user.is_active
    ended = admin_sessions.set_active(user, False)
    state = "Deactivated" if was_active else "Already inactive:"
    click.echo(
        f"{state} admin {user.email}; ended {_sessions(ended)}. "
        f"Logins and API tokens are refused until `chat activate-admin`."
    )


@chat_cli.command("activate-admin")
@click.argument("email")
def activate_admin_command(email):
    """Let a deactivated admin log in (and use their API tokens) again."""
    user = _admin_by_email(email)
    was_active = user.is_active
    admin_sessions.set_active(user, True)
    click.echo(f"{'Already active' if was_active else 'Activated'}: admin {user.email} can log in.")


@chat_cli.command("reply")
@click.argument("inquiry_id", type=int)
@click.argument("text")
@click.option(
    "--admin",
    "admin_email",
    default=None,
    help="Answer as this admin (email; default: the first admin who works on the inquiry's site).",
)
def reply_command(inquiry_id, text, admin_email):
    """Answer an inquiry as the shop, exactly as the panel does (for demos and scripts).

    The admin must be allowed to answer it in the panel (their role and sites): a
    script must not put an answer in the name of someone who cannot see the inquiry.
    """
    from .services import ServiceError, access, inquiries

    query = db.select(User).where(User.is_active.is_(True))
    if admin_email:
        query = query.filter_by(email=admin_email.strip().lower())
    candidates = db.session.scalars(query.order_by(User.id)).all()
    if not candidates:
        raise click.BadParameter("no such active admin", param_hint="--admin")
    admin = next((user for user in candidates if access.can_see_inquiry(user, inquiry_id)), None)
    try:
        if admin is None:
            access.inquiry(candidates[0], inquiry_id)  # raises NotFound, as the panel would
        result = inquiries.respond(inquiry_id, admin, text)
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Answered inquiry {inquiry_id} (message {result.message.id}).")


@chat_cli.command("notify")
def notify_command():
    """Queue emails: inquiries left unanswered, answers a customer has not read."""
    from .services import notifications

    click.echo(f"Queued {notifications.scan()} email(s).")


@chat_cli.command("send-mail")
def send_mail_command():
    """Send the emails that are due (retries failures later)."""
    from .mail import deliver_due

    sent, failed = deliver_due()
    click.echo(f"Sent {sent}, failed {failed} (will retry).")


SWEEP_SECONDS = 3600


@chat_cli.command("worker")
@click.option("--interval", default=15.0, show_default=True, help="Seconds between rounds.")
@click.option("--once", is_flag=True, help="Run one round and stop.")
def worker_command(interval, once):
    """The Procfile's worker: queue and send notification emails, send webhooks and pushes, forever; sweep
    orphaned attachment files once an hour."""
    import time

    from .mail import deliver_due
    from .push_delivery import deliver_due as deliver_pushes
    from .services import attachment_upkeep, notifications
    from .webhook_delivery import deliver_due as deliver_webhooks

    swept_at = None
    while True:
        try:
            queued = notifications.scan()
            sent, failed = deliver_due()
            if queued or sent or failed:
                click.echo(f"queued {queued}, sent {sent}, failed {failed}")
            _echo_webhooks(deliver_webhooks())
            pushed = deliver_pushes()
            if pushed.delivered or pushed.failed or pushed.dropped:
                click.echo(f"pushes: delivered {pushed.delivered}, failed {pushed.failed}, dropped {pushed.dropped}")
            if swept_at is None or time.monotonic() - swept_at >= SWEEP_SECONDS:
                swept_at = time.monotonic()
                orphans = attachment_upkeep.sweep()
                if orphans:
                    click.echo(f"deleted {orphans} orphaned attachment file(s)")
        except Exception as exc:  # noqa: BLE001 - a bad round must not stop the worker
            db.session.rollback()
            click.echo(f"worker round failed: {exc}", err=True)
        finally:
            db.session.remove()
        if once:
            break
        time.sleep(interval)


def _echo_webhooks(totals):
    if totals.delivered or totals.failed:
        click.echo(f"webhooks: delivered {totals.delivered}, failed {totals.failed} (failures are retried)")


@chat_cli.command("vapid-keys")
def vapid_keys_command():
    """Print a new VAPID key pair for Web Push (set VAPID_PRIVATE_KEY to the first line's value)."""
    from .push_delivery import new_private_key, public_key_of

    private = new_private_key()
    click.echo(f"VAPID_PRIVATE_KEY={private}")
    click.echo(f"# public key (browsers subscribe with it): {public_key_of(private)}")


@chat_cli.command("send-webhooks")
def send_webhooks_command():
    """Send the webhooks that are due (new ones, retries), once."""
    from .webhook_delivery import deliver_due

    totals = deliver_due()
    click.echo(f"Delivered {totals.delivered}, failed {totals.failed} (failures are retried).")


@chat_cli.command("sweep-attachments")
def sweep_attachments_command():
    """Delete stored attachment files that no message names (left by sends that never committed)."""
    from .services import attachment_upkeep

    click.echo(f"Deleted {attachment_upkeep.sweep()} orphaned file(s).")


@chat_cli.command("mail-catcher")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@click.option("--port", default=1025, show_default=True, help="SMTP port (point MAIL_PORT at it).")
def mail_catcher_command(host, port):
    """Development: catch the app's mails on loopback, keep them under instance/mail/, print them."""
    from flask import current_app

    from .devmail import start

    folder = os.path.join(current_app.instance_path, "mail")
    try:
        controller = start(folder, host, port, echo=lambda text: click.echo(text))
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--host") from None
    click.echo(f"Mail catcher on {host}:{port}; mails are kept in {folder}")
    _serve_until_stopped(controller)


def _serve_until_stopped(controller):
    """Block until SIGTERM or Ctrl+C, then stop ``controller`` (an aiosmtpd server thread)."""
    import signal
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


@chat_cli.command("mail-in")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (the MX relays to it).")
@click.option("--port", default=2525, show_default=True, help="SMTP port.")
@click.option("--max-bytes", type=click.IntRange(1024), default=None, help="Largest mail [INBOUND_EMAIL_MAX_BYTES].")
def mail_in_command(host, port, max_bytes):
    """Take replies to our mails by SMTP (for a host behind the MX): each becomes a message in its chat."""
    from flask import current_app

    from .inbound_smtp import start

    domain = current_app.config.get("MAIL_REPLY_DOMAIN")
    if not domain:
        raise click.ClickException("Set MAIL_REPLY_DOMAIN first: mail-in takes mail for reply+...@ that domain.")
    max_bytes = max_bytes or current_app.config["INBOUND_EMAIL_MAX_BYTES"]
    try:
        controller = start(current_app._get_current_object(), host, port, max_bytes)
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}") from None
    click.echo(f"Mail-in on {host}:{port}: replies to reply+...@{domain}, at most {max_bytes} bytes a mail")
    _serve_until_stopped(controller)


@chat_cli.command("reply-to-mail")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.argument("text")
@click.option("--from", "sender", default=None, help="Reply from this address (default: the mail's recipient).")
@click.option("--html", is_flag=True, help="Send the reply as HTML only, as some mail programs do.")
@click.option("--direct", is_flag=True, help="Hand it in here instead of to the server at PUBLIC_BASE_URL.")
def reply_to_mail_command(path, text, sender, html, direct):
    """Development: reply to a caught mail (instance/mail/*.eml) as a mail program would.

    The reply goes to the server's inbound webhook (POST /api/inbound/email at
    PUBLIC_BASE_URL), so it shows live in the chat, as one from a mail provider would.
    """
    from flask import current_app

    from .devmail import post_reply, reply_to

    with open(path, "rb") as fh:
        original = fh.read()
    try:
        reply = reply_to(original, text, sender=sender, as_html=html)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    if direct:
        from .services import mail_in

        outcome = vars(mail_in.receive(reply))
    else:
        try:
            outcome = post_reply(reply, current_app.config)
        except OSError as error:
            raise click.ClickException(
                f"{error}: is the server running at {current_app.config['PUBLIC_BASE_URL']} (make run)? "
                f"Or add --direct."
            ) from None
    click.echo(_reply_outcome(outcome))


def _reply_outcome(outcome):
    from .services import mail_in

    kind, inquiry, message = outcome["outcome"], outcome.get("inquiry_id"), outcome.get("message_id")
    if kind == mail_in.ANSWER:
        return f"The admin's answer in inquiry {inquiry} (message {message})."
    if kind == mail_in.FOLLOW_UP:
        return f"The shopper's follow-up in inquiry {inquiry} (message {message})."
    if kind == mail_in.DUPLICATE:
        return "Already handled (the same Message-ID came in before)."
    return f"Dropped: {kind}" + (f" (inquiry {inquiry})." if inquiry else ".")


@chat_cli.command("create-token")
@click.argument("email")
@click.option("--name", default="cli", help="What the token is for.")
def create_token_command(email, name):
    """Create an API token for an admin (printed once)."""
    from .services import admin_tokens

    user = db.session.scalar(db.select(User).filter_by(email=email.strip().lower()))
    if user is None:
        raise click.BadParameter("no such admin", param_hint="EMAIL")
    click.echo(admin_tokens.create(user, name))


def register_cli(app):
    app.cli.add_command(chat_cli)


def _customer_option(email, inquiry_id):
    from .services import ServiceError, privacy

    try:
        return privacy.find_customer(email=email, inquiry_id=inquiry_id)
    except ServiceError as error:
        raise click.ClickException(error.message) from None


customer_options = [
    click.option("--email", default=None, help="The customer's email address."),
    click.option("--inquiry", "inquiry_id", type=int, default=None, help="One of the customer's inquiry ids."),
]


def _with_customer_options(command):
    for option in reversed(customer_options):
        command = option(command)
    return command


@chat_cli.command("export-customer")
@_with_customer_options
@click.option(
    "--zip",
    "zip_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Write a zip with the JSON and the files sent.",
)
def export_customer_command(email, inquiry_id, zip_path):
    """Print everything stored about one customer as JSON (or write it, with their files, to a zip)."""
    import json

    from .services import privacy

    customer = _customer_option(email, inquiry_id)
    if zip_path:
        with open(zip_path, "wb") as out:
            privacy.export_zip(customer, out)
        click.echo(f"Wrote {zip_path}.")
        return
    click.echo(json.dumps(privacy.export(customer), indent=2, ensure_ascii=False))


@chat_cli.command("erase-customer")
@_with_customer_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_customer_command(email, inquiry_id, yes):
    """Delete all conversations, messages and mails of one customer."""
    from .services import privacy

    customer = _customer_option(email, inquiry_id)
    if not yes:
        click.confirm(f"Erase {len(customer.inquiries())} conversation(s) of this customer?", abort=True)
    counts = privacy.erase(customer)
    click.echo(
        f"Erased {counts['inquiries']} conversation(s), {counts['messages']} message(s), {counts['files']} file(s), "
        f"{counts['emails']} mail(s)."
    )


@chat_cli.command("revoke-customer")
@_with_customer_options
def revoke_customer_command(email, inquiry_id):
    """End every chat session of one customer."""
    from .services import shoppers

    click.echo(f"Ended {shoppers.revoke(_customer_option(email, inquiry_id).sessions)} session(s).")


@chat_cli.command("purge")
@click.option(
    "--days",
    type=int,
    default=None,
    help="Retention in days (default: CHAT_RETENTION_DAYS, 365). Resolved or closed longer ago: deleted.",
)
def purge_command(days):
    """Delete resolved or closed inquiries older than the retention period (safe from cron)."""
    from flask import current_app

    from .services import privacy

    days = days if days is not None else current_app.config["CHAT_RETENTION_DAYS"]
    if days < 1:
        raise click.BadParameter("must be at least 1", param_hint="--days")
    from .services import audit

    counts = privacy.purge(days)
    audit_days = current_app.config["AUDIT_RETENTION_DAYS"]
    audit_count = audit.purge(audit_days)
    audit.record("purge", None, None, f"{counts['inquiries']} inquiries, {audit_count} audit entries", commit=True)
    click.echo(
        f"Purged {counts['inquiries']} inquiries, {counts['messages']} messages and {counts['files']} files "
        f"older than {days} days."
    )
    click.echo(f"Purged {audit_count} audit log entries older than {audit_days} days.")


# -- sites (shops that embed the chat) -------------------------------------------


def _site_option(public_id):
    from .services import ServiceError, sites

    try:
        return sites.get(public_id)
    except ServiceError as error:
        raise click.ClickException(f"{error.message} (see `flask chat sites`)") from None


@chat_cli.command("create-site")
@click.argument("name")
@click.option(
    "--origin",
    "origins",
    multiple=True,
    required=True,
    metavar="ORIGIN",
    help="An origin whose pages embed the chat, e.g. https://shop.example (repeat for more).",
)
def create_site_command(name, origins):
    """Create a site; prints one JSON object {"site", "api_key"} (the key is shown only this once)."""
    import json

    from .services import ServiceError, sites

    try:
        site, key = sites.create(name, list(origins))
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    # Nothing else on stdout: scripts parse this line.
    click.echo(json.dumps({"site": site.public_id, "api_key": key}))


@chat_cli.command("site-key")
@click.argument("site")
@click.option("--name", default="cli", show_default=True, help="What the key is for.")
def site_key_command(site, name):
    """Create another API key for SITE (its public id); the key is printed once."""
    from .services import ServiceError, sites

    try:
        key = sites.add_key(_site_option(site), name)
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    click.echo(key)


@chat_cli.command("sites")
def sites_command():
    """List the sites: public id, name and allowed origins, tab-separated."""
    from .services import sites

    for site in sites.all_sites():
        click.echo("\t".join([site.public_id, site.name, " ".join(site.origins) or "-"]))
