"""The service that evaluators and users talk to: POST /api-deploy to a dispatched run."""
