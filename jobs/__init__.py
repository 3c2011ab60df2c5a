"""Background jobs run by arq."""
