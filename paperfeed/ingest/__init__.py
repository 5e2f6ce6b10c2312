"""Ingestion: each module turns one source into ``Paper`` records and stores them through ``storage``.

``snapshot`` (bulk JSON lines), ``oai`` (OAI-PMH harvesting), ``arxiv_api`` (the Atom API and single
submissions), ``cards`` (Daily Papers cards). ``normalize`` is the shared record → Paper step.
"""
