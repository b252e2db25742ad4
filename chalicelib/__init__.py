"""docpipe's application code: everything app.py routes to lives here."""
