"""Click commands grouped by concern; paperfeed/cli.py registers them."""
