"""The ``paperfeed`` commands, one module per concern (context: what they all share; ingest, search,
accounts, digest, ops); paperfeed/cli.py assembles them into one group."""
