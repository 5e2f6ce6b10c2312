"""paperfeed for agents: the MCP server (server.py) and its tools (tools.py)."""
