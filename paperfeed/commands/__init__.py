"""CLI command groups that live outside paperfeed/cli.py, one module per concern; cli.py registers them."""
