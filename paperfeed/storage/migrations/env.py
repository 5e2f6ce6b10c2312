"""Alembic environment: runs migrations on the engine paperfeed hands over (no alembic.ini)."""

from alembic import context

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    # render_as_batch lets ALTER-style migrations work on SQLite by copying tables.
    context.configure(connection=connection, render_as_batch=True, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
