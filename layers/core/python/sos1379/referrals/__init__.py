"""Referrals: routing a case to institutes and the message each institute's queue receives.

- ``fanout``: ``route_case_event`` (intake queue consumer) records the routing decision and the
  referral items in one transaction, then sends one message per referral; the repair paths.
- ``message``: the versioned ``referral.v1`` contract (``events/schemas/referral.v1.json``).

The package imports nothing itself: importing ``sos1379.referrals.message`` does not load the router.
"""
