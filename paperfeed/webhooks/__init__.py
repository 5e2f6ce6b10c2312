"""Outgoing webhooks: which events exist and how they read (events.py), and how the worker signs and
sends them (send.py)."""
