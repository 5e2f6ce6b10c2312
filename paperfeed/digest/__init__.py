"""Email digests: who subscribes (``subscriptions``), what each digest holds (``compose``), how it reads
(``render``, ``latex``), how it travels (``mail``) and how a period is sent exactly once (``send``).

All SQL is in ``paperfeed.storage.subscribers`` and ``paperfeed.storage.deliveries``.
"""
