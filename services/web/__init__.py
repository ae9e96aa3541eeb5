"""The web console (网页工作台): server-rendered pages in Chinese over the four services' APIs.

Not a domain service: it owns no events and no database. Every page calls intake, routing,
supervision and reporting over HTTP with the signed-in user's bearer token, so each service
enforces the user's scope itself."""
