"""The API of the `budgetod` plugin: its actions (``action``) and their authorisation (``auth``)."""
