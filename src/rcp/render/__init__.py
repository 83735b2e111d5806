"""rcp.render."""
