"""The personal ranking behind For-you and the digest's picks: a reader's signals (``signals``), the
period's candidate papers as arrays (``candidates``), a per-reader model fitted from both (``model``), and
the ranking with a reason per paper (``rank``). Pure Python and numpy over data handed in: no SQL here."""
