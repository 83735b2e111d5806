"""rcp.render: Render's public REST API as rcp uses it.

- ``rcp.render.client.RenderClient`` — one httpx client; typed models; retries (tenacity) per
  docs/reliability.md; errors from ``rcp.errors``.
- ``rcp.render.kinds`` — one entry per resource kind (path, wrapper, model, states): the
  client's and the gateway's per-kind behaviour is a lookup there.
- ``rcp.render.gateway.Gateway`` — ``rcp.core.ports.RenderGateway`` over the client.
- ``rcp.render.ratelimit`` — the process-wide client-side limiter (``default_limiter()``).
- ``rcp.render.errormap`` — status / transport failure → typed error (the only such mapping).
- ``rcp.render.waits`` — ``Retry-After`` / ``Ratelimit-*`` header parsing.

Nothing is imported here, so importing the package stays cheap.
"""
