"""CLI commands grouped by concern, registered on the ``paperfeed`` group in ``paperfeed/cli.py``."""
