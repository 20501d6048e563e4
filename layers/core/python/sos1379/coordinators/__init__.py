"""The coordinators' side: staff authentication and roles, the triage queue and case actions,
counselor intake, satisfaction ratings and reporting."""
