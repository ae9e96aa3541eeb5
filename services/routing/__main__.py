from services.routing.bootstrap import build
from xinfang.runtime import main_for

main_for(build)
