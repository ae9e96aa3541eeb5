"""deploy/k8s renders, validates against the Kubernetes 1.30 schemas offline, and keeps the policy.

Each overlay is rendered with ``kubectl kustomize`` where kubectl is installed, else with the small
renderer below, which knows exactly what deploy/k8s uses: ``resources`` (files and directories),
``namespace``, and ``patches`` (strategic merge or JSON 6902, with a ``target`` by kind, name and
label selector). Anything else in a kustomization makes it fail loudly rather than render wrongly.
Where kubectl exists both are run and their output compared as parsed YAML documents.
``XINFANG_K8S_RENDERER=python`` forces the Python renderer for the whole module.
"""
from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
kubernetes_validate = pytest.importorskip("kubernetes_validate")

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ["dev", "production"]
KUBERNETES_VERSION = "1.30"
SERVICES = {"intake": 8001, "routing": 8002, "supervision": 8003, "reporting": 8004}
CONSOLE = {"web": 8000}
UID = 10001
DATA_DIR = "/var/lib/xinfang"
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass",
                  "CustomResourceDefinition", "IngressClass", "PriorityClass"}


# ---------------------------------------------------------------------------------------------
# rendering


def _kubectl() -> str | None:
    if os.environ.get("XINFANG_K8S_RENDERER") == "python":
        return None
    return shutil.which("kubectl")


def render_kubectl(kubectl: str, directory: Path) -> list[dict]:
    result = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def _load_all(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


# strategic merge: the merge keys of the lists deploy/k8s patches; any other list is replaced
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
              "volumeMounts": "mountPath", "ports": "containerPort", "envFrom": None}


def _strategic_merge(base, patch, field: str | None = None):
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            if isinstance(k, str) and k.startswith("$"):
                raise NotImplementedError(f"strategic-merge directive {k} is not supported here")
            if v is None:
                out.pop(k, None)
            elif k in out:
                out[k] = _strategic_merge(out[k], v, k)
            else:
                out[k] = copy.deepcopy(v)
        return out
    key = MERGE_KEYS.get(field or "")
    if isinstance(base, list) and isinstance(patch, list) and key:
        # as kustomize (kyaml) orders a merged list: the patch's items first, in its order, merged
        # with the base's item of the same key, then the base's other items in theirs
        keys = [item.get(key) for item in patch]
        merged = []
        for item in patch:
            match = next((x for x in base if isinstance(x, dict) and x.get(key) == item.get(key)), None)
            merged.append(copy.deepcopy(item) if match is None else _strategic_merge(match, item, field))
        return merged + [copy.deepcopy(x) for x in base if not (isinstance(x, dict) and x.get(key) in keys)]
    return copy.deepcopy(patch)


def _pointer(path: str) -> list[str]:
    assert path.startswith("/"), path
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _json6902(doc: dict, ops: list[dict]) -> dict:
    doc = copy.deepcopy(doc)
    for op in ops:
        *parents, last = _pointer(op["path"])
        node = doc
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        kind = op["op"]
        if isinstance(node, list):
            index = len(node) if last == "-" else int(last)
            if kind == "add":
                node.insert(index, copy.deepcopy(op["value"]))
            elif kind == "replace":
                node[index] = copy.deepcopy(op["value"])
            elif kind == "remove":
                del node[index]
            else:
                raise NotImplementedError(f"JSON 6902 op {kind!r}")
        elif kind in ("add", "replace"):
            if kind == "replace" and last not in node:
                raise KeyError(f"replace of a missing {op['path']} in {doc['kind']}/{doc['metadata']['name']}")
            node[last] = copy.deepcopy(op["value"])
        elif kind == "remove":
            del node[last]
        else:
            raise NotImplementedError(f"JSON 6902 op {kind!r}")
    return doc


def _selected(labels: dict, selector: str) -> bool:
    for term in selector.split(","):
        key, _, value = term.strip().partition("=")
        if "!" in key or labels.get(key) != value:
            return False
    return True


def _matches(doc: dict, target: dict) -> bool:
    unknown = set(target) - {"kind", "name", "labelSelector", "group", "version"}
    if unknown:
        raise NotImplementedError(f"patch target fields {unknown}")
    meta = doc["metadata"]
    group, _, version = doc["apiVersion"].rpartition("/")
    return (target.get("kind", doc["kind"]) == doc["kind"]
            and target.get("name", meta["name"]) == meta["name"]
            and target.get("group", group) == group
            and target.get("version", version) == version
            and ("labelSelector" not in target or _selected(meta.get("labels", {}), target["labelSelector"])))


def render_python(directory: Path) -> list[dict]:
    """Kustomize, as far as deploy/k8s uses it."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    unknown = set(kustomization) - {"apiVersion", "kind", "resources", "patches", "namespace"}
    if unknown:
        raise NotImplementedError(f"{directory}/kustomization.yaml uses {sorted(unknown)}, which the Python "
                                  "renderer in tests/test_k8s.py does not handle: extend it, or keep the "
                                  "kustomization simpler")
    docs: list[dict] = []
    for resource in kustomization.get("resources", []):
        path = directory / resource
        docs += render_python(path) if path.is_dir() else _load_all(path)
    for entry in kustomization.get("patches", []):
        body = yaml.safe_load((directory / entry["path"]).read_text(encoding="utf-8")) if "path" in entry \
            else yaml.safe_load(entry["patch"])
        target = entry.get("target")
        hits = 0
        for i, doc in enumerate(docs):
            if isinstance(body, list):  # JSON 6902: needs a target
                assert target, f"{entry}: a JSON 6902 patch needs a target"
                if _matches(doc, target):
                    docs[i], hits = _json6902(doc, body), hits + 1
            else:
                wanted = target or {"kind": body["kind"], "name": body["metadata"]["name"]}
                if _matches(doc, wanted):
                    docs[i], hits = _strategic_merge(doc, body), hits + 1
        assert hits, f"{directory}: patch {entry} matched no resource"
    if "namespace" in kustomization:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = kustomization["namespace"]
    return docs


def render(overlay: str) -> list[dict]:
    kubectl = _kubectl()
    directory = K8S / "overlays" / overlay
    return render_kubectl(kubectl, directory) if kubectl else render_python(directory)


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request):
    return request.param, render(request.param)


def _key(doc: dict) -> tuple:
    return doc["apiVersion"], doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"]


def _by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def _one(docs: list[dict], kind: str, name: str) -> dict:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def _workloads(docs: list[dict]) -> list[dict]:
    return [d for d in docs if d["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet")]


def _selects(selector: dict, labels: dict) -> bool:
    """A matchLabels / matchExpressions selector (or a Service's plain map) against labels."""
    plain = selector if "matchLabels" not in selector and "matchExpressions" not in selector else \
        selector.get("matchLabels", {})
    if not all(labels.get(k) == v for k, v in plain.items()):
        return False
    for e in selector.get("matchExpressions", []) if "matchExpressions" in selector else []:
        present, value = e["key"] in labels, labels.get(e["key"])
        ok = {"In": present and value in e.get("values", []), "NotIn": not present or value not in e.get("values", []),
              "Exists": present, "DoesNotExist": not present}[e["operator"]]
        if not ok:
            return False
    return True


# ---------------------------------------------------------------------------------------------
# the renderers


def test_every_overlay_renders(overlay):
    name, docs = overlay
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "ConfigMap", "Job", "PodDisruptionBudget", "NetworkPolicy", "Ingress"} <= kinds
    keys = [_key(d) for d in docs]
    assert len(keys) == len(set(keys)), "a resource is declared twice"


@pytest.mark.parametrize("name", OVERLAYS)
def test_python_renderer_matches_kubectl(name):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: only the Python renderer ran")
    directory = K8S / "overlays" / name
    ours = {_key(d): d for d in render_python(directory)}
    theirs = {_key(d): d for d in render_kubectl(kubectl, directory)}
    assert ours.keys() == theirs.keys()
    for key, doc in theirs.items():
        assert ours[key] == doc, f"{key} differs between kubectl kustomize and the Python renderer"


def test_renders_without_kubectl(monkeypatch):
    """As on a CI machine without kubectl: the Python renderer does the whole job."""
    monkeypatch.delenv("XINFANG_K8S_RENDERER", raising=False)
    monkeypatch.setattr(shutil, "which", lambda *_a, **_k: None)
    assert _kubectl() is None
    for name in OVERLAYS:
        docs = render(name)
        assert {d["metadata"]["name"] for d in _by_kind(docs, "Deployment")} == {*SERVICES, *CONSOLE}
        for doc in docs:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_python_renderer_refuses_what_it_does_not_know(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\ncommonLabels: {a: b}\n")
    with pytest.raises(NotImplementedError, match="commonLabels"):
        render_python(tmp_path)


# ---------------------------------------------------------------------------------------------
# schemas


def test_every_document_validates_against_the_kubernetes_schemas(overlay):
    _, docs = overlay
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:  # pragma: no cover - the message is the point
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {e.message} at {list(e.path)}")


# ---------------------------------------------------------------------------------------------
# policy


def test_every_deployment_container_has_probes_and_every_container_limits(overlay):
    _, docs = overlay
    for w in _workloads(docs):
        spec = w["spec"]["template"]["spec"]
        for c in spec.get("initContainers", []) + spec["containers"]:
            where = f"{w['kind']}/{w['metadata']['name']} container {c['name']}"
            res = c.get("resources", {})
            assert {"cpu", "memory"} <= set(res.get("limits", {})), f"{where}: no cpu and memory limits"
            assert {"cpu", "memory"} <= set(res.get("requests", {})), f"{where}: no cpu and memory requests"
            if w["kind"] == "Deployment":  # a Job's one-shot container has nothing to be live or ready for
                assert c.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/livez", where
                assert c.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/readyz", where
                assert "startupProbe" in c, where


def test_images_are_pinned(overlay):
    _, docs = overlay
    for w in _workloads(docs):
        spec = w["spec"]["template"]["spec"]
        for c in spec.get("initContainers", []) + spec["containers"]:
            image = c.get("image", "")
            assert image, f"{w['metadata']['name']}/{c['name']}: no image"
            if "@sha256:" in image:
                continue
            name, _, tag = image.rpartition(":")
            assert name and "/" not in tag, f"{image}: no tag"
            assert tag != "latest", f"{image}: never :latest"


def test_deployment_selectors_match_their_pods(overlay):
    _, docs = overlay
    for d in _by_kind(docs, "Deployment"):
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert _selects(d["spec"]["selector"], labels), d["metadata"]["name"]
        for key in ("app.kubernetes.io/name", "app.kubernetes.io/part-of", "app.kubernetes.io/component"):
            assert key in labels and key in d["metadata"]["labels"], f"{d['metadata']['name']}: no {key}"
        assert labels["app.kubernetes.io/part-of"] == "xinfang"


def test_every_service_selects_a_deployment_and_a_named_port(overlay):
    _, docs = overlay
    deployments = _by_kind(docs, "Deployment")
    for s in _by_kind(docs, "Service"):
        pods = [d for d in deployments if _selects(s["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])]
        assert pods, f"Service/{s['metadata']['name']} selects no Deployment's pods"
        container_ports = {p.get("name") for d in pods for c in d["spec"]["template"]["spec"]["containers"]
                           for p in c.get("ports", [])}
        for port in s["spec"]["ports"]:
            assert port["targetPort"] in container_ports, f"Service/{s['metadata']['name']}: {port}"


def test_ports_hosts_and_scrape_annotations(overlay):
    _, docs = overlay
    for name, port in {**SERVICES, **CONSOLE}.items():
        d = _one(docs, "Deployment", name)
        pod = d["spec"]["template"]
        c = pod["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        assert env[f"{name.upper()}_HOST"] == "0.0.0.0"
        assert env[f"{name.upper()}_PORT"] == str(port)
        assert c["ports"][0]["containerPort"] == port
        assert c["command"] == ["python", "-m", f"services.{name}"]
        assert pod["spec"]["enableServiceLinks"] is False, f"{name}: Service links would set INTAKE_PORT=tcp://…"
        ann = pod["metadata"]["annotations"]
        assert ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/path"] == "/metrics"
        assert ann["prometheus.io/port"] == str(port)
        assert _one(docs, "Service", name)["spec"]["ports"][0]["port"] == port


def test_settings_and_secrets(overlay):
    _, docs = overlay
    assert not _by_kind(docs, "Secret"), "no secret in the manifests: xinfang-secrets is made outside them"
    config = _one(docs, "ConfigMap", "xinfang-config")["data"]
    assert config["XINFANG_BROKER"] == "kafka" and config["XINFANG_LOG_FORMAT"] == "json"
    assert config["XINFANG_TOPIC_PARTITIONS"] == "4" and config["KAFKA_BOOTSTRAP_SERVERS"]
    assert config["XINFANG_TRUSTED_PROXIES"] and config["XINFANG_DATA_DIR"] == DATA_DIR
    for name, port in SERVICES.items():
        assert config[f"{name.upper()}_URL"] == f"http://{name}:{port}"
    for name in [*SERVICES, *CONSOLE]:
        c = _one(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
        assert {"configMapRef": {"name": "xinfang-config"}} in c["envFrom"]
        secrets = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c.get("env", []) if "valueFrom" in e}
        wanted = set() if name in CONSOLE else \
            {f"{name.upper()}_DATABASE_URL", "XINFANG_PII_KEY", "XINFANG_TOKEN_VERIFY_KEY"}
        if name in ("intake", "routing", "supervision"):
            wanted.add(f"{name.upper()}_SIGNING_KEY")  # its chain checkpoints: one key for every replica
        if name == "routing":
            wanted.add("XINFANG_TOKEN_SIGNING_KEY")  # routing alone signs
        if name == "intake":
            wanted.add("XINFANG_PII_PREVIOUS_KEYS")  # intake alone holds personal data
            assert secrets["XINFANG_PII_PREVIOUS_KEYS"].get("optional") is True  # set only while rotating
        assert set(secrets) == wanted, name
        assert all(ref["name"] == "xinfang-secrets" for ref in secrets.values())


def test_pods_run_as_the_image_user_on_a_read_only_root(overlay):
    _, docs = overlay
    for w in _workloads(docs):
        spec = w["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == UID and spec["securityContext"]["runAsGroup"] == UID
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
            assert "emptyDir" in volumes[mounts[DATA_DIR]], f"{w['metadata']['name']}/{c['name']}: {DATA_DIR}"


def test_pod_disruption_budgets_cover_every_deployment(overlay):
    _, docs = overlay
    pdbs = _by_kind(docs, "PodDisruptionBudget")
    for d in _by_kind(docs, "Deployment"):
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert any(_selects(p["spec"]["selector"], labels) for p in pdbs), d["metadata"]["name"]


def test_the_migration_job_migrates_every_database(overlay):
    _, docs = overlay
    job = _one(docs, "Job", "xinfang-migrate")
    containers = {c["name"]: c for c in job["spec"]["template"]["spec"]["containers"]}
    for name in SERVICES:
        c = containers[f"migrate-{name}"]
        refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in c["env"] if "valueFrom" in e}
        assert refs == {f"{name.upper()}_DATABASE_URL": f"{name}-database-url"}, "its own database only"
        assert c["command"][-1] == name
    assert containers["topics"]["command"] == ["xinfang", "topics", "create"]


def test_the_migration_script_runs(tmp_path):
    """The Job's own commands, against SQLite: the import path and the migrations are real, and a
    rerun finds the schema current. The four run side by side, as the Job's containers do."""
    job = _one(_load_all(K8S / "base" / "migrate-job.yaml"), "Job", "xinfang-migrate")
    commands = {}
    for c in job["spec"]["template"]["spec"]["containers"]:
        if c["name"].startswith("migrate-"):
            assert c["command"][0] == "python"
            commands[c["command"][-1]] = [sys.executable, *c["command"][1:]]
    assert set(commands) == set(SERVICES)
    for _ in range(2):
        running = {}
        for name, argv in commands.items():
            env = {**os.environ, f"{name.upper()}_DATABASE_URL": f"sqlite:///{tmp_path / name}.db",
                   "XINFANG_DATA_DIR": str(tmp_path)}
            running[name] = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                             env=env, cwd=ROOT)
        for name, proc in running.items():
            out, err = proc.communicate(timeout=180)
            assert proc.returncode == 0, err
            assert f"migrated {name}" in out
    for name in SERVICES:
        assert (tmp_path / f"{name}.db").stat().st_size > 0


def test_network_policies(overlay):
    _, docs = overlay
    policies = _by_kind(docs, "NetworkPolicy")
    deny = _one(docs, "NetworkPolicy", "xinfang-default-deny")
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in deny["spec"]
    for name, port in {**SERVICES, **CONSOLE}.items():
        labels = _one(docs, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        admitting = [p for p in policies if "Ingress" in p["spec"]["policyTypes"] and p["spec"].get("ingress")
                     and _selects(p["spec"]["podSelector"], labels)]
        assert admitting, f"{name}: nothing may reach it"
        for p in admitting:
            for rule in p["spec"]["ingress"]:
                for peer in rule["from"]:
                    assert "ipBlock" not in peer, f"{p['metadata']['name']}: no address ranges"
                    if "podSelector" in peer and "namespaceSelector" not in peer:
                        assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "web", \
                            f"{name}: only the console's pods"
                    else:
                        ns = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                        assert ns in ("ingress-nginx", "monitoring"), f"{name}: only the ingress (and scraping)"
                for rp in rule["ports"]:
                    assert rp["port"] <= port <= rp.get("endPort", rp["port"])
    egress_ports = {rp["port"] for p in policies for rule in p["spec"].get("egress", []) for rp in rule["ports"]}
    assert {53, 5432, 9092} <= egress_ports


def test_ingress_serves_the_console(overlay):
    _, docs = overlay
    (ingress,) = _by_kind(docs, "Ingress")
    backends = {path["backend"]["service"]["name"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]}
    assert backends == {"web"}


def test_overlay_replicas_and_autoscaling(overlay):
    name, docs = overlay
    deployments = {d["metadata"]["name"]: d for d in _by_kind(docs, "Deployment")}
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in _by_kind(docs, "HorizontalPodAutoscaler")}
    partitions = int(_one(docs, "ConfigMap", "xinfang-config")["data"]["XINFANG_TOPIC_PARTITIONS"])
    if name == "dev":
        assert all(d["spec"]["replicas"] == 1 for d in deployments.values())
        assert not hpas
        return
    assert all(d["spec"]["replicas"] >= 2 for d in deployments.values())
    assert set(hpas) == {*SERVICES, *CONSOLE}
    for target, hpa in hpas.items():
        assert target in deployments and hpa["spec"]["minReplicas"] >= 2
        if target in SERVICES:  # a consumer group uses at most one member per partition
            assert hpa["spec"]["maxReplicas"] <= partitions, target
