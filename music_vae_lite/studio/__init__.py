"""mvl_studio: the browser page (static/), its HTTP server and the operations it asks of a model."""
