"""SOS 1379 HTTP API (Chalice). Routes live in blueprints under sos1379.api; this file only
assembles them. Every route is declared as its own API Gateway resource in template.yaml."""
from chalice import Chalice

from sos1379.api import (attachments, catalog, console, coordinators, equipment, institutes, journey, links, openapi,
                         pages, partners, public, recover, verify)
from sos1379.api.common import edge_middleware

# configure_logs=False: Chalice would put a plain-text handler on the "sos1379" logger, the same
# logger Powertools' Logger(service="sos1379") uses in the functions; a process that imports both
# (tests, the local stack) then breaks Powertools' formatter (no append_keys).
app = Chalice(app_name="sos1379", configure_logs=False)
app.api.binary_types = []
app.log.setLevel("WARNING")

for module in (public, institutes, openapi, pages, coordinators, links, catalog, journey, console, partners, recover,
               attachments, equipment, verify):
    app.register_blueprint(module.bp)

# nosniff on every answer, and Chalice's own 405/415 answers as bilingual problem+json
app.register_middleware(edge_middleware, "http")
