"""rcp.output."""
