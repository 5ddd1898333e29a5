"""The budget visualisation, dashboard and readable reports (the `budgetod_view` plugin)."""
