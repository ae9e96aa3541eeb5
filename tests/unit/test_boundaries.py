"""The design's boundaries, read from the import statements of every module:
- the kernel (``xinfang``) imports no service and not the entrypoints;
- a service imports no other service's modules (services talk only through Kafka events);
- a service's ``domain.py`` imports neither SQLAlchemy nor FastAPI (nor anything that does, among
  the kernel's HTTP modules): rules without I/O or HTTP."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists())
# kernel modules that bring in the web framework or the database
KERNEL_IO = ("xinfang.auth", "xinfang.web", "xinfang.runtime", "xinfang.storage")
FRAMEWORKS = ("sqlalchemy", "fastapi", "starlette", "alembic", "httpx", "uvicorn", "faust", "kafka", "aiokafka")


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute names (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            out.add(module)
            out |= {f"{module}.{a.name}" for a in node.names}
    return out


def modules_under(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts or p.name != "env.py")


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_kernel_imports_no_service_and_no_entrypoint():
    wrong = [f"{p.relative_to(ROOT)} imports {name}" for p in modules_under("xinfang")
             for name in sorted(imports_of(p)) if _within(name, "services") or _within(name, "xinfang_cli")]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service):
    others = [s for s in SERVICES if s != service]
    wrong = [f"{p.relative_to(ROOT)} imports {name}" for p in modules_under(f"services/{service}")
             for name in sorted(imports_of(p))
             if any(_within(name, f"services.{o}") for o in others) or _within(name, "xinfang_cli")]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("service", [s for s in SERVICES if (ROOT / "services" / s / "domain.py").exists()])
def test_a_domain_does_no_io_and_knows_no_http(service):
    names = imports_of(ROOT / "services" / service / "domain.py")
    wrong = sorted(n for n in names if any(_within(n, f) for f in (*FRAMEWORKS, *KERNEL_IO)))
    assert not wrong, f"services/{service}/domain.py imports {wrong}"


def test_the_checker_sees_imports_inside_functions_and_relative_ones(tmp_path, monkeypatch):
    """The walk must see what a module imports lazily, or a boundary could be crossed unseen."""
    pkg = ROOT / "services" / "intake"
    sample = pkg / "_boundary_probe.py"
    sample.write_text("def f():\n    from services.routing import organisation\nfrom . import domain\n")
    try:
        names = imports_of(sample)
    finally:
        sample.unlink()
    assert "services.routing.organisation" in names and "services.intake.domain" in names
