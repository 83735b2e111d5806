"""rcp.cli."""
