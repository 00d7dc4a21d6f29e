"""Dialing a campaign: a run's lifecycle and the parts it is made of.

`runner.CampaignRunner` drives one run (its knobs are `options.RunOptions`). Its parts: the slot
ledger (`slots`, over `capacity` and `leases`), a dialer per mode behind `dialing.Dialer`
(`direct` with `creates`, and `batching`), result sync (`sync`, `webhook_inbox`, `results`),
the reconciler (`reconcile`) and the breakers (`breakers`). Pure rules they share: callable
groups and calling windows (`groups`, `windows`), outcome classes (`outcomes`), retry times
(`retries`), pacing (`pacing`), refusals (`refusals`), what a call carries (`calls`) and the
per-number cap (`number_cap`). `call_audit` holds Retell's calls against the store; `hang_up`
stops a cancelled campaign's calls in progress.
"""

from __future__ import annotations

from campaigner.dialer.outcomes import classify_call, needs_analysis
from campaigner.dialer.windows import is_callable_at, next_callable_at

__all__ = ["classify_call", "is_callable_at", "needs_analysis", "next_callable_at"]
