"""python -m services.web — the web console on WEB_HOST:WEB_PORT (default 127.0.0.1:8000)."""
import uvicorn

from services.web.app import create_app
from services.web.client import ConsoleSettings

s = ConsoleSettings.from_env()
uvicorn.run(create_app(s), host=s.host, port=s.port, log_level="info", access_log=False)
