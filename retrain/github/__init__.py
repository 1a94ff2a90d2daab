"""GitHub: event payloads, the Checks API, workflow commands."""
