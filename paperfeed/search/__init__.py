"""Search: indexes derived from the database (rebuildable from it at any time) and the queries over them."""
