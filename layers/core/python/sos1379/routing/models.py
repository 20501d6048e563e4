"""Typed input and output of the router (the contract the route_case function and the API use)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Decision = Literal["refer", "handoff", "coordinator"]


class RoutingInput(BaseModel):
    """What the router reads from a case: free text plus the intake form's optional fields."""

    model_config = ConfigDict(extra="ignore")

    title: str = ""
    text: str = ""
    service_type: str | None = None
    channel: str | None = None
    region: str | None = None
    lang: str = "ko"


class InstituteScore(BaseModel):
    code: str
    score: float
    reasons: list[str] = Field(default_factory=list)


class RoutingResult(BaseModel):
    """``institutes`` is the full ranking (best first); ``targets`` the codes the case goes to."""

    decision: Decision
    institutes: list[InstituteScore]
    targets: list[str]
    confidence: float
    # calibrated P(the first institute is a right one), from the top-1/top-2 margin table
    # (sos1379.routing.calibration); None when nothing was ranked
    probability: float | None = None
