"""rcp.sandbox."""
