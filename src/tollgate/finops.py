"""FinOps orchestration: FOCUS store -> series -> anomalies/forecasts, with ledger changes as likely causes."""
