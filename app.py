"""SOS 1379 HTTP API (Chalice). Routes live in blueprints under sos1379.api; this file only
assembles them. Every route is declared as its own API Gateway resource in template.yaml."""
from chalice import Chalice

from sos1379.api import coordinators, institutes, openapi, pages, public

app = Chalice(app_name="sos1379")
app.api.binary_types = []
app.log.setLevel("WARNING")

for module in (public, institutes, openapi, pages, coordinators):
    app.register_blueprint(module.bp)
