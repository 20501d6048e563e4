"""The HTTP adapter: Chalice blueprints (views only) and the one place domain errors become HTTP.

Each blueprint module exposes ``bp`` (a chalice.Blueprint) and ``OPENAPI_PATHS`` (its part of the
OpenAPI document). Views are registered with :func:`route`, which applies the error mapping."""
