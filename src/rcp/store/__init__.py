"""rcp.store."""
