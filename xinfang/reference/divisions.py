"""Administrative divisions (12-digit codes) and handling units of the DEMO county (示范县).

Codes: province 2 + city 2 + county 2 + township 3 + village 3 digits. The demo uses province
99, which no real province has, so demo data can never be mistaken for a real place.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

DEMO = True


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    level: str  # province | city | county | township | village
    parent: str | None
    demo: bool = True

    def dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Unit:
    unit_id: str
    name: str
    kind: str  # petition_office | department | township_government | joint_conference_office
    division_code: str
    demo: bool = True

    def dict(self) -> dict:
        return asdict(self)


PROVINCE, CITY, COUNTY = "990000000000", "999900000000", "999901000000"
_TOWNSHIPS = ["城关镇", "东风镇", "河西乡", "青山镇", "柳林乡", "红星镇", "石桥乡", "新安镇", "白水乡", "龙泉镇"]
_VILLAGE_SUFFIX = ["东村", "西村", "南村", "北村", "中心村", "前进村", "胜利村", "和平村", "新华村", "光明村"]
_DEPARTMENTS = [
    "县公安局", "县人力资源和社会保障局", "县自然资源局", "县住房和城乡建设局", "县农业农村局",
    "县教育局", "县卫生健康局", "县生态环境局", "县交通运输局", "县民政局",
    "县市场监督管理局", "县财政局", "县水利局", "县司法局", "县退役军人事务局",
    "县应急管理局", "县城市管理局", "县医疗保障局", "县商务局", "县纪委监委",
]


def _build() -> tuple[dict[str, Division], dict[str, Unit]]:
    divs = [
        Division(PROVINCE, "示范省（演示）", "province", None),
        Division(CITY, "示范市（演示）", "city", PROVINCE),
        Division(COUNTY, "示范县（演示）", "county", CITY),
    ]
    units = [
        Unit(f"{COUNTY[:6]}-xfj", "示范县信访局", "petition_office", COUNTY),
        Unit(f"{COUNTY[:6]}-lxb", "示范县信访工作联席会议办公室", "joint_conference_office", COUNTY),
    ]
    for d, name in enumerate(_DEPARTMENTS, start=1):
        units.append(Unit(f"{COUNTY[:6]}-d{d:02d}", name, "department", COUNTY))
    for t, tname in enumerate(_TOWNSHIPS, start=1):
        tcode = f"{COUNTY[:6]}{t:03d}000"
        divs.append(Division(tcode, tname, "township", COUNTY))
        units.append(Unit(f"{tcode[:9]}-gov", f"{tname}人民政府", "township_government", tcode))
        for v, suffix in enumerate(_VILLAGE_SUFFIX, start=1):
            divs.append(Division(f"{tcode[:9]}{v:03d}", f"{tname[:2]}{suffix}", "village", tcode))
    return {d.code: d for d in divs}, {u.unit_id: u for u in units}


_DIVISIONS, _UNITS = _build()


def divisions() -> list[Division]:
    return list(_DIVISIONS.values())


def division(code: str) -> Division | None:
    return _DIVISIONS.get(code)


def units() -> list[Unit]:
    return list(_UNITS.values())


def unit(unit_id: str) -> Unit | None:
    return _UNITS.get(unit_id)


def township_of(code: str) -> Division | None:
    d = _DIVISIONS.get(code)
    while d is not None and d.level not in ("township", "county", "city", "province"):
        d = _DIVISIONS.get(d.parent) if d.parent else None
    return d if d is not None and d.level == "township" else None


def county_of(code: str) -> Division | None:
    d = _DIVISIONS.get(code)
    while d is not None and d.level != "county":
        d = _DIVISIONS.get(d.parent) if d.parent else None
    return d
