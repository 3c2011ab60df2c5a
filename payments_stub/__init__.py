"""A fake payment provider with its own small HTTP API (API.md section 3)."""
