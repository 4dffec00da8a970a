"""`flask chat ...` commands."""
import click
from flask import current_app
from flask.cli import AppGroup

from .extensions import db
from .models import User

chat_cli = AppGroup("chat", help="Product chat administration.")


@chat_cli.command("seed-demo")
def seed_demo_command():
    """Create the demo shop's products and admin (safe to run again)."""
    from .demo import seed_demo

    email, password = seed_demo()
    click.echo("Demo shop ready.")
    click.echo(f"Admin login: {email} / {password}")


@chat_cli.command("create-admin")
@click.argument("email")
@click.option("--name", default=None, help="Display name (defaults to the email's local part).")
@click.password_option("--password", help="Password (prompted for when omitted).")
def create_admin_command(email, name, password):
    """Create an admin account, or reset its password."""
    email = email.strip().lower()
    if "@" not in email:
        raise click.BadParameter("not an email address", param_hint="EMAIL")
    if len(password) < 8:
        raise click.BadParameter("use at least 8 characters", param_hint="--password")
    user = db.session.scalar(db.select(User).filter_by(email=email))
    created = user is None
    if created:
        user = User(email=email, name=name or email.split("@")[0])
        db.session.add(user)
    elif name:
        user.name = name
    user.set_password(password)
    db.session.commit()
    click.echo(f"{'Created' if created else 'Updated'} admin {email}.")


@chat_cli.command("reply")
@click.argument("inquiry_id", type=int)
@click.argument("text")
@click.option("--admin", "admin_email", default=None, help="Answer as this admin (email).")
def reply_command(inquiry_id, text, admin_email):
    """Answer an inquiry as the shop (for demos and scripts)."""
    from .services import ServiceError, conversations

    admin = None
    if admin_email:
        admin = db.session.scalar(db.select(User).filter_by(email=admin_email.strip().lower()))
        if admin is None:
            raise click.BadParameter("no such admin", param_hint="--admin")
    try:
        message = conversations.add_admin_message(inquiry_id, text, admin_id=admin.id if admin else None)
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Answered inquiry {inquiry_id} (message {message.id}).")


def register_cli(app):
    app.cli.add_command(chat_cli)
