"""``paperfeed users create NAME --email E [--admin]`` and ``paperfeed tokens create|list|revoke NAME``.

The password comes from stdin when it is not a terminal (``echo … | paperfeed users create``), else from
a hidden prompt asked twice; it never appears in the command line or the shell history.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from paperfeed import accounts
from paperfeed.commands.context import Context, pass_context
from paperfeed.models import User
from paperfeed.storage import users as user_store


@click.group()
def users() -> None:
    """Manage member accounts."""


@users.command("create")
@click.argument("name")
@click.option("--email", required=True, help="The member's email address (unique).")
@click.option("--admin", is_flag=True, help="May approve authorship claims and moderate comments.")
@click.option("--moderator", is_flag=True, help="May hide comments.")
@click.option("--curator", is_flag=True, help="May pick papers for the curated list.")
@pass_context
def create_user(obj: Context, name: str, email: str, admin: bool, moderator: bool, curator: bool) -> None:
    """Create an account; the password is read from stdin or a prompt."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = accounts.sign_up(
            obj.db, name, email, password, is_admin=admin, is_moderator=moderator, is_curator=curator
        )
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    roles = ["admin"] if user.is_admin else ["moderator"] if user.is_moderator else []  # admins moderate
    roles += ["curator"] if user.is_curator else []
    role = f" ({', '.join(roles)})" if roles else ""
    click.echo(f"created user {user.name} <{user.email}>{role}")


@click.group()
def tokens() -> None:
    """Manage API tokens (Authorization: Bearer …)."""


@tokens.command("create")
@click.argument("name")
@click.option("--label", default="", help="What the token is for, to recognise it later.")
@click.option(
    "--scope",
    type=click.Choice(accounts.SCOPES),
    default="read",
    show_default=True,
    help="read: GET only; write: may also upvote, comment, submit and change collections.",
)
@click.option(
    "--expires-days",
    type=click.IntRange(1, accounts.MAX_TOKEN_DAYS),
    default=None,
    help="Days until the token stops working (default: never).",
)
@pass_context
def create_token(obj: Context, name: str, label: str, scope: str, expires_days: int | None) -> None:
    """Create an API token for user NAME and print it (it is shown only once)."""
    user = _user(obj, name)
    try:
        click.echo(accounts.create_token(obj.db, user, label, scope=scope, expires_days=expires_days))
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc


@tokens.command("list")
@click.argument("name")
@pass_context
def list_tokens(obj: Context, name: str) -> None:
    """List user NAME's tokens: id, scope, created, expires, label (never the secret)."""
    now = datetime.now(UTC)
    for t in accounts.tokens(obj.db, _user(obj, name)):
        expires = t.expires_at.strftime("%Y-%m-%d") if t.expires_at else "never"
        if t.expired(now):
            expires = f"expired-{expires}"
        click.echo(f"{t.id}\t{t.scope}\t{t.created_at:%Y-%m-%d}\t{expires}\t{t.label}")


@tokens.command("revoke")
@click.argument("name")
@click.argument("token_ids", metavar="[ID]...", nargs=-1, type=int)
@click.option("--all", "everything", is_flag=True, help="Revoke every token of the user.")
@pass_context
def revoke_tokens(obj: Context, name: str, token_ids: tuple[int, ...], everything: bool) -> None:
    """Revoke tokens of user NAME by id (see 'tokens list'), or all of them with --all."""
    if bool(token_ids) == everything:
        raise click.UsageError("give token ids or --all (not both)")
    user = _user(obj, name)
    wanted = None if everything else [i for i in token_ids if 0 < i < 2**63]
    revoked = accounts.revoke_tokens(obj.db, user, wanted)
    click.echo(f"revoked {revoked} token{'s' if revoked != 1 else ''} of {user.name}")
    if wanted is not None and revoked < len(set(token_ids)):
        raise click.ClickException(
            f"{len(set(token_ids)) - revoked} of the ids are not tokens of {user.name}"
        )


def _user(obj: Context, name: str) -> User:
    user = user_store.user_by_name(obj.db, name)
    if user is None:
        raise click.ClickException(f"no user named {name!r}")
    return user
