"""``paperfeed mcp``: the MCP server over stdio, for an agent that starts paperfeed as a subprocess (Claude
Desktop, any MCP client). Personal and write tools act as the member whose token is ``PAPERFEED_TOKEN``.

Nothing but the protocol may reach stdout: the command prints nothing of its own there.
"""

from __future__ import annotations

import click

from paperfeed.commands.context import Context, pass_context


@click.command("mcp")
@pass_context
def mcp_command(obj: Context) -> None:
    """Serve the MCP server (search, lists, papers, collections, votes, comments) over stdin/stdout."""
    from paperfeed.agents.server import serve_stdio

    serve_stdio(obj.db, obj.settings)
