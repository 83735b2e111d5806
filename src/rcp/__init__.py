"""rcp — the Render Control Plane."""

__version__ = "0.1.0"
