"""The DEMO county (示范县): its divisions, units and routing rules as organisation events, and its
demo users, for trying the system out (XINFANG_DEMO)."""
from __future__ import annotations

from services.routing import adapters, staff
from services.routing.adapters import org_stream
from services.routing.projections import DEMO_SEEDER, append_org
from xinfang.contracts.events import DivisionAdded, RoutingRuleAdded, UnitAdded
from xinfang.errors import Conflict
from xinfang.reference import divisions as demo_divisions
from xinfang.reference import units as demo_units
from xinfang.storage import Database, UnitOfWork

DEMO_PASSWORD = "xinfang-demo"
DEMO_COUNTY = "999901000000"
# (username, role, jurisdiction, unit, display name)
DEMO_USERS = [
    ("demo-admin", "admin", DEMO_COUNTY, "999901-xfj", "演示管理员"),
    ("demo-clerk", "clerk", DEMO_COUNTY, "999901-xfj", "演示登记员"),
    ("demo-dispatcher", "dispatcher", DEMO_COUNTY, "999901-xfj", "演示交办员"),
    ("demo-handler", "handler", DEMO_COUNTY, "999901-d02", "演示承办人（县人社局）"),
    ("demo-supervisor", "supervisor", DEMO_COUNTY, "999901-xfj", "演示督办员"),
    ("demo-leader", "leader", DEMO_COUNTY, "999901-xfj", "演示领导"),
    ("demo-township-clerk", "clerk", "999901001000", "999901001-gov", "演示登记员（城关镇）"),
]

# Demo rules (示范县): land (国土资源), labour disputes (劳动和社会保障, first handled by the
# township's labour security station) and village affairs (村务管理) go to the township where
# they arose; county-level categories go to the county department in charge; anything else falls
# back to the county petition office (a live case waits in its dispatcher's queue).
DEMO_TOWNSHIP_CATEGORIES = [("05", "国土资源：属地乡镇政府"), ("07", "劳动和社会保障：乡镇劳动保障所先行处理"),
                            ("0901", "村务管理：属地乡镇政府")]
DEMO_COUNTY_CATEGORIES = [
    ("01", "d01", "政法：县公安局"), ("0104", "d14", "司法行政：县司法局"), ("03", "d20", "纪检监察：县纪委监委"),
    ("05", "d03", "国土资源：县自然资源局"), ("06", "d06", "教育文体：县教育局"), ("07", "d02", "劳动和社会保障：县人社局"),
    ("08", "d04", "城乡建设：县住建局"), ("0804", "d17", "城市管理：县城管局"), ("09", "d05", "农村农业：县农业农村局"),
    ("0905", "d13", "水利设施：县水利局"), ("10", "d07", "卫生计生：县卫健局"), ("1002", "d18", "医疗保障：县医保局"),
    ("11", "d08", "环境保护：县生态环境局"), ("12", "d09", "交通运输：县交通运输局"), ("13", "d10", "民政：县民政局"),
    ("1302", "d15", "优抚安置：县退役军人事务局"), ("14", "d11", "经济管理：县市场监管局"), ("15", "d19", "商贸旅游：县商务局"),
]


def demo_rules() -> list[RoutingRuleAdded]:
    county = DEMO_COUNTY[:6]
    out = [RoutingRuleAdded(rule_id=f"demo-{county}-{cat}", division_prefix=county, category_prefix=cat,
                            unit_id=f"{county}-{unit}", note=note) for cat, unit, note in DEMO_COUNTY_CATEGORIES]
    for t in range(1, 11):
        township = f"{county}{t:03d}"
        out += [RoutingRuleAdded(rule_id=f"demo-{township}-{cat}", division_prefix=township, category_prefix=cat,
                                 unit_id=f"{township}-gov", note=note) for cat, note in DEMO_TOWNSHIP_CATEGORIES]
    return out


def seed_demo(db: Database) -> bool:
    """Record the DEMO county as events, and its demo users, unless they are there already."""
    stream = org_stream(DEMO_COUNTY)
    with UnitOfWork(db) as uow:
        seeded = uow.stream_version(stream) > 0
        if not seeded:
            payloads = [DivisionAdded(code=d.code, name=d.name, level=d.level, parent=d.parent, demo=True)
                        for d in demo_divisions()]
            payloads += [UnitAdded(unit_id=u.unit_id, name=u.name, kind=u.kind, division_code=u.division_code, demo=True)
                         for u in demo_units()]
            append_org(uow, stream, payloads, DEMO_SEEDER)
        known = adapters.rule_ids_starting(uow.conn, "demo-")
        missing = [r for r in demo_rules() if r.rule_id not in known]  # a retired demo rule stays retired
        if missing:
            append_org(uow, stream, missing, DEMO_SEEDER)
    for username, role, jurisdiction, unit, display in DEMO_USERS:
        try:
            staff.create_user(db, username, DEMO_PASSWORD, role, jurisdiction, unit, display)
        except Conflict:
            pass
    return not seeded
