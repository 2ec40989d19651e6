"""The JSON API: current status, alerts, thresholds, tenants and silences over HTTP.

`create_app` (api/app.py) builds the FastAPI application; `serve` (api/server.py) runs it
under uvicorn for `healthmon api`. Handlers call storage/ and flows/ and hold no SQL.
"""
