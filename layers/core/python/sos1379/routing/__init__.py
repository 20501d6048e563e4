"""Case routing: which institute can solve a case, with reasons, and whether to refer it."""
from sos1379.routing.models import InstituteScore, RoutingInput, RoutingResult
from sos1379.routing.router import Router, RouterConfig, get_router

__all__ = ["InstituteScore", "Router", "RouterConfig", "RoutingInput", "RoutingResult", "get_router"]
