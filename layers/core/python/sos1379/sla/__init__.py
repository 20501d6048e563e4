"""SLA clocks (first guidance, resolution), breach flags and the scheduled pass.

``clocks`` holds the pure computation over (case, history, now); ``flagger`` the pass that reads
the cases due through the StatusDue index and records flags once; ``bench`` the cost benchmark."""
from .clocks import (AT_RISK_BUSINESS_DAYS, FIRST_GUIDANCE, GUIDANCE_BUSINESS_DAYS, RESOLUTION, Clock, ClockState,
                     SlaStatus, add_business_time, business_days_to_first_guidance, compute_clock, sla_status)
from .flagger import (FAR_FUTURE, FLAGGED_STATUSES, FlagRun, MemoryAlertSink, SnsAlertSink, flag_case,
                      flag_due_cases, flag_event_id, index_changes, window_until)

__all__ = ["AT_RISK_BUSINESS_DAYS", "FIRST_GUIDANCE", "GUIDANCE_BUSINESS_DAYS", "RESOLUTION", "Clock", "ClockState",
           "SlaStatus", "add_business_time", "business_days_to_first_guidance", "compute_clock", "sla_status",
           "FAR_FUTURE", "FLAGGED_STATUSES", "FlagRun", "MemoryAlertSink", "SnsAlertSink", "flag_case",
           "flag_due_cases", "flag_event_id", "index_changes", "window_until"]
