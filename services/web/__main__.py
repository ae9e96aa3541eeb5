"""python -m services.web — the web console on WEB_HOST:WEB_PORT (default 127.0.0.1:8000)."""
import uvicorn

from services.web.app import create_app
from services.web.client import ConsoleSettings
from xinfang import tracing
from xinfang.config import settings
from xinfang.logs import configure

configure("web", settings().log_level)  # as the services: text or XINFANG_LOG_FORMAT=json, masked
tracing.setup("web")
s = ConsoleSettings.from_env()
uvicorn.run(create_app(s), host=s.host, port=s.port, log_config=None, access_log=False)
tracing.shutdown()
