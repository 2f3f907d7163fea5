"""Terminal tables, JSON and HTML reports."""
