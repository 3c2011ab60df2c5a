"""arq tasks, one module per domain area; each task calls one service function."""
