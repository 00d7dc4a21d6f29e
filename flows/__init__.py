"""campaigner's Prefect flows: thin compositions of `campaigner`'s plain functions.

| flow | module | what it does |
|---|---|---|
| `ingest-contacts` | `flows.ingest` | import one contacts file into a campaign |
| `run-campaign` | `flows.campaign` | dial and sync until nothing is due now or a deadline |
| `sync-results` | `flows.campaign` | results of calls in flight, dialing nothing new |
| `export-report` | `flows.report` | write a campaign's report files |
| `watch-inbox` | `flows.inbox` | claim dropped files once, import them, start `run-campaign` |

`flows.serve` serves them as deployments with their schedules (`campaigner serve`); `flows.demo` is
`make demo`; `flows.notifications` holds the Prefect events that `run-campaign` and `watch-inbox`
emit for automations to notify on. See docs/flows.md.
"""
