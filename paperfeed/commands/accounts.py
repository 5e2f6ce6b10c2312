"""``paperfeed users create NAME --email E [--admin]`` and ``paperfeed tokens create NAME``.

The password comes from stdin when it is not a terminal (``echo … | paperfeed users create``), else from
a hidden prompt asked twice; it never appears in the command line or the shell history.
"""

from __future__ import annotations

import sys

import click

from paperfeed import accounts
from paperfeed.commands.context import Context, pass_context
from paperfeed.storage import users as user_store


@click.group()
def users() -> None:
    """Manage member accounts."""


@users.command("create")
@click.argument("name")
@click.option("--email", required=True, help="The member's email address (unique).")
@click.option("--admin", is_flag=True, help="May approve authorship claims and moderate comments.")
@click.option("--moderator", is_flag=True, help="May hide comments.")
@pass_context
def create_user(obj: Context, name: str, email: str, admin: bool, moderator: bool) -> None:
    """Create an account; the password is read from stdin or a prompt."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = accounts.sign_up(obj.db, name, email, password, is_admin=admin, is_moderator=moderator)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    role = " (admin)" if user.is_admin else " (moderator)" if user.is_moderator else ""
    click.echo(f"created user {user.name} <{user.email}>{role}")


@click.group()
def tokens() -> None:
    """Manage API tokens (Authorization: Bearer …)."""


@tokens.command("create")
@click.argument("name")
@click.option("--label", default="", help="What the token is for, to recognise it later.")
@pass_context
def create_token(obj: Context, name: str, label: str) -> None:
    """Create an API token for user NAME and print it (it is shown only once)."""
    db = obj.db
    user = user_store.user_by_name(db, name)
    if user is None:
        raise click.ClickException(f"no user named {name!r}")
    click.echo(accounts.create_token(db, user, label))
