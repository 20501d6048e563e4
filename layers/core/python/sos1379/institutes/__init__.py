"""The receiving side: institutes answering their referrals and hand-off partners.

- ``service``: accept, decline (re-route), request information, resolve; the SME's reply.
- ``keys``: institute and partner API keys (stored hashed, revocable, dev keys on the local stack).
- ``partners``: 1357 and the regional CCEIs: hand-offs, their API and the lapse of unclaimed ones.

The package imports nothing itself, so each path loads only the module it uses.
"""
