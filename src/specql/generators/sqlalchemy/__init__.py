"""The SQLAlchemy target (``specql generate --target sqlalchemy``): declarative models of the
tables the PostgreSQL target creates. :class:`generator.SqlAlchemyGenerator` is the entry."""
