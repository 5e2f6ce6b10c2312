"""The ``paperfeed`` command: the top-level group, with every command of paperfeed/commands/ added to it.

The commands are thin wrappers over library functions, one module per concern under commands/; what they
share (the context, the exit codes, ``fail``) is in commands/context.py.
"""

from __future__ import annotations

import click

from paperfeed.commands import ops
from paperfeed.commands.accounts import tokens, users
from paperfeed.commands.agents import mcp_command
from paperfeed.commands.context import Context, fail, refused
from paperfeed.commands.digest import digest, subscribers
from paperfeed.commands.ingest import ingest, submit
from paperfeed.commands.search import index, search


class _Group(click.Group):
    """The command group: an error the machine caused (a full disk, the database unreachable) ends any
    command with one line naming it and exit 1 (commands/context.py)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except Exception as error:
            if (reason := refused(error)) is None:
                raise
            fail(reason)


@click.group(cls=_Group)
@click.option(
    "--database", "database_url", envvar="PAPERFEED_DATABASE_URL", help="Overrides PAPERFEED_DATABASE_URL."
)
@click.pass_context
def main(ctx: click.Context, database_url: str | None) -> None:
    """paperfeed: daily arXiv papers, search, upvotes and digests."""
    obj = ctx.ensure_object(Context)
    if database_url:
        obj.settings = obj.settings.model_copy(update={"database_url": database_url})


for command in (
    ingest,
    submit,
    index,
    search,
    users,
    tokens,
    subscribers,
    digest,
    mcp_command,
    *ops.COMMANDS,
):
    main.add_command(command)

if __name__ == "__main__":
    main()
