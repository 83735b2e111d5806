"""Domain and provisioning engine. No Typer, rich, httpx or SQLModel imports here."""
