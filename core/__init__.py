"""Shared plumbing: settings, database, Redis, auth, errors, realtime. Imports no domain."""
