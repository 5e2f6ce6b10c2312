"""CLI command groups that live in their own modules; ``paperfeed.cli`` registers each with one line."""
