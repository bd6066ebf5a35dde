"""XML upload: employee and position files that a customer's script posts to
hrsync's REST API (``connections.api``), in the HR Data Sync format."""
