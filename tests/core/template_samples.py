"""Sample templates for the core tests (imported by test modules and conftest)."""

from __future__ import annotations

import textwrap

from rcp.core.templates import Template, parse_template_text

# Every resource type, every env var kind, placeholders and Blueprint spellings.
RICH_TEMPLATE = """\
services:
  - type: web
    name: web
    runtime: python
    repo: "{{ tenant.plugin_repo }}"
    branch: main
    rootDir: app
    autoDeploy: false
    buildCommand: pip install -r requirements.txt
    startCommand: gunicorn app:app
    preDeployCommand: python manage.py migrate
    healthCheckPath: /healthz
    plan: pro plus
    region: frankfurt
    numInstances: 2
    envVars:
      - key: TENANT_SLUG
        value: "{{ tenant.slug }}"
      - key: TENANT_NAME
        value: "{{tenant.name}}"
      - key: PORT
        value: 8080
      - key: SECRET_KEY
        generateValue: true
      - key: DATABASE_URL
        fromDatabase: {name: db, property: connectionString}
      - key: REDIS_URL
        fromService: {name: cache, type: keyvalue, property: connectionString}
      - key: API_HOSTPORT
        fromService: {name: api, type: pserv, property: hostport}
      - key: SHARED_TOKEN
        fromService: {name: api, type: pserv, envVarKey: API_TOKEN}
  - type: pserv
    name: api
    runtime: docker
    repo: https://github.com/example/api
    dockerfilePath: ./Dockerfile
    plan: standard
    envVars:
      - key: API_TOKEN
        generateValue: true
      - key: DB_HOST
        fromDatabase: {name: db, property: host}
  - type: worker
    name: jobs
    runtime: node
    repo: https://github.com/example/jobs
    buildCommand: npm ci
    startCommand: node worker.js
    envVars:
      - key: QUEUE_URL
        fromService: {name: cache, type: redis, property: hostport}
  - type: cron
    name: nightly
    runtime: ruby
    repo: https://github.com/example/jobs
    buildCommand: bundle install
    startCommand: bundle exec rake nightly
    schedule: "0 3 * * *"
    plan: starter
  - type: keyvalue
    name: cache
    plan: starter
    maxmemoryPolicy: allkeys-lru
    ipAllowList:
      - source: 203.0.113.4
        description: "{{ tenant.name }} office"
      - source: 10.0.0.0/8
databases:
  - name: db
    plan: basic-1gb
    postgresMajorVersion: "17"
    region: frankfurt
    databaseName: app_db
    user: app_user
    diskSizeGB: 15
    ipAllowList: []
"""


def make_template(text: str, name: str = "sample") -> Template:
    """A Template from YAML text, as load_template would build it from a file."""
    source = textwrap.dedent(text)
    return Template(name, f"/templates/{name}.yaml", source, parse_template_text(source, name))
