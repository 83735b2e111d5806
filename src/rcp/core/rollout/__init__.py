"""Staged rollouts of a template revision across its tenants (`rcp rollout`, docs/fleet.md).

``model``: the recorded rollout, its options and parsing (waves, failure budget, tiers);
``runner``: moving a rollout on, wave by wave, one ``converge_tenant`` per tenant (the path of
``rcp apply``'s updates), with the health gate, the failure budget, pause/abort, and rollback.
"""
