"""Alembic's environment for the warehouse: run by loaders.schema on a connection it passes in
(never from an alembic.ini: the warehouse URL comes from the jinbao configuration)."""

from alembic import context

from schemas.warehouse import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
