"""National two-level petition categories (信访事项内容分类): 17 first-level classes and a
starting set of second-level classes. Codes: two digits, then two more for the leaf."""
from __future__ import annotations

_TREE: list[tuple[str, list[str]]] = [
    ("政法", ["公安", "检察", "法院", "司法行政", "涉法涉诉"]),
    ("科技与信息产业", ["科技管理", "通信与信息", "网络管理"]),
    ("纪检监察", ["违纪违法", "作风问题", "检举控告"]),
    ("党务政务", ["政务公开", "行政效能", "干部作风"]),
    ("国土资源", ["土地征收", "土地权属", "土地承包经营", "矿产资源", "宅基地"]),
    ("教育文体", ["教育管理", "教师待遇", "学生入学", "文化体育"]),
    ("劳动和社会保障", ["劳动关系", "工资福利", "社会保险", "就业培训", "退休待遇"]),
    ("城乡建设", ["国有土地上房屋征收与补偿", "住房保障", "物业管理", "城市管理", "建筑市场"]),
    ("农村农业", ["村务管理", "农民负担", "惠农补贴", "农村集体资产", "水利设施"]),
    ("卫生计生", ["医疗纠纷", "医疗保障", "公共卫生"]),
    ("环境保护", ["环境污染", "生态保护", "噪声扰民"]),
    ("交通运输", ["道路建设", "交通管理", "客运出租"]),
    ("民政", ["社会救助", "优抚安置", "婚姻登记", "殡葬管理"]),
    ("经济管理", ["企业改制", "企业破产", "金融证券", "市场监管", "价格收费"]),
    ("商贸旅游", ["商贸流通", "旅游管理", "消费维权"]),
    ("组织人事", ["人事管理", "干部任免", "军转干部"]),
    ("其他", ["咨询", "感谢", "其他事项"]),
]


def _build() -> list[dict]:
    out = []
    for i, (name, leaves) in enumerate(_TREE, start=1):
        code = f"{i:02d}"
        out.append({
            "code": code, "name": name,
            "children": [{"code": f"{code}{j:02d}", "name": leaf, "children": []} for j, leaf in enumerate(leaves, start=1)],
        })
    return out


CATEGORIES: list[dict] = _build()
_LEAVES = {c["code"]: (c["name"], top["name"]) for top in CATEGORIES for c in top["children"]}


def is_leaf(code: str) -> bool:
    return code in _LEAVES


def category_leaf(code: str) -> tuple[str, str] | None:
    """(leaf name, first-level name) of a leaf code, or None."""
    return _LEAVES.get(code)
