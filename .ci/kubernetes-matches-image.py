#!/usr/bin/python3
"""Checks that deploy/kubernetes/ runs the image the way deploy/container/Dockerfile and the
launcher deploy/bin/snigate build and start it: the same user, ports, config path, probe paths,
writable directories and timeouts, so that the manifests and the image cannot drift apart.

    .ci/kubernetes-matches-image.py           prints one line per check; exit 1 if any fails
    .ci/kubernetes-matches-image.py --facts   prints, as shell assignments, what .ci/check-image
                                              needs to run the image as the Deployment would
Run from the repository root. Needs python3-yaml.
"""
import re
import shlex
import sys

import yaml

DOCKERFILE = "deploy/container/Dockerfile"
LAUNCHER = "deploy/bin/snigate"
K8S = "deploy/kubernetes/"
ADMIN_SOURCE = "src/main/java/io/snigate/admin/AdminServer.java"


def load(name):
    with open(K8S + name) as f:
        return yaml.safe_load(f)


def dockerfile():
    """The Dockerfile's last value of each instruction (COPY and EXPOSE: every value)."""
    text = open(DOCKERFILE).read().replace("\\\n", " ")
    found = {"COPY": [], "EXPOSE": [], "ENV": []}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word in ("COPY", "EXPOSE", "ENV"):
            found[word].append(rest.strip())
        else:
            found[word] = rest.strip()
    return found


def host_port(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


deployment = load("deployment.yaml")
configmap = load("configmap.yaml")
service = load("service.yaml")
podmonitor = load("podmonitor.yaml")
image = dockerfile()
pod = deployment["spec"]["template"]["spec"]
(container,) = pod["containers"]
ports = {p["name"]: p["containerPort"] for p in container["ports"]}
security = pod.get("securityContext", {})
csecurity = container.get("securityContext", {})
sysctls = {s["name"]: s["value"] for s in security.get("sysctls", [])}
mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
volumes = {v["name"]: v for v in pod.get("volumes", [])}
args = container.get("args") or container.get("command")

user, _, group = image["USER"].partition(":")
image_cmd = yaml.safe_load(image["CMD"])
image_entrypoint = yaml.safe_load(image["ENTRYPOINT"])
copies = {}
for copy in image["COPY"]:
    words = [w for w in copy.split() if not w.startswith("--")]
    copies[words[-1]] = words[0]
exposed = {int(p.split("/")[0]) for e in image["EXPOSE"] for p in e.split()}
launcher = open(LAUNCHER).read()
launcher_jar = re.search(r"^jar=\$\{SNIGATE_JAR:-([^}]+)\}", launcher, re.M).group(1)
env = " ".join(image["ENV"])
archive = re.search(r"SNIGATE_CDS_ARCHIVE=(\S+)", env).group(1)

config_flag = args.index("--config") if "--config" in args else args.index("-c")
config_path = args[config_flag + 1]
config_dir, _, config_file = config_path.rpartition("/")
config_mount = mounts.get(config_dir)
config_volume = volumes.get(config_mount["name"]) if config_mount else None
routes = yaml.safe_load(configmap["data"][config_file]) if config_file in configmap.get("data", {}) else {}
listens = [host_port(l) for l in (routes.get("listen") if isinstance(routes.get("listen"), list) else [routes.get("listen")])]
admin = host_port(routes.get("admin", "127.0.0.1:9090"))
drain = int(str(routes.get("timeouts", {}).get("drain", "30s")).rstrip("s"))
pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
pre_stop_seconds = int(pre_stop[-1]) if pre_stop[:1] == ["sleep"] else 0
admin_paths = set(re.findall(r'case "(/[a-z]+)"', open(ADMIN_SOURCE).read()))
tmp_volume = volumes.get(mounts["/tmp"]["name"]) if "/tmp" in mounts else None

if "--facts" in sys.argv:
    facts = {
        "K8S_UID": security.get("runAsUser"),
        "K8S_GID": security.get("runAsGroup"),
        "K8S_SYSCTLS": " ".join(f"{k}={v}" for k, v in sysctls.items()),
        "K8S_ARGS": " ".join(shlex.quote(a) for a in args),
        "K8S_CONFIG_DIR": config_dir,
        "K8S_CONFIG_FILE": config_file,
        "K8S_TLS_PORT": ports["tls"],
        "K8S_ADMIN_PORT": ports["metrics"],
        "K8S_READINESS_PATH": container["readinessProbe"]["httpGet"]["path"],
        "K8S_LIVENESS_PATH": container["livenessProbe"]["httpGet"]["path"],
        "K8S_READ_ONLY_ROOT": "yes" if csecurity.get("readOnlyRootFilesystem") else "no",
        "K8S_TMP_SIZE": (tmp_volume or {}).get("emptyDir", {}).get("sizeLimit", ""),
        "K8S_CAP_ADD": " ".join(csecurity.get("capabilities", {}).get("add", [])),
        "K8S_CAP_DROP": " ".join(csecurity.get("capabilities", {}).get("drop", [])),
        "K8S_NO_NEW_PRIVILEGES": "no" if csecurity.get("allowPrivilegeEscalation", True) else "yes",
        "K8S_MEMORY_LIMIT": container.get("resources", {}).get("limits", {}).get("memory", ""),
        "IMAGE_USER": image["USER"],
    }
    for key, value in facts.items():
        print(f"{key}={shlex.quote(str(value))}")
    sys.exit(0)

checks = [
    ("the pod runs as the image's user " + image["USER"],
     str(security.get("runAsUser")) == user and str(security.get("runAsGroup")) == group),
    ("that user is not root, and runAsNonRoot is set", user not in ("0", "root") and security.get("runAsNonRoot") is True),
    ("the container's ports are the image's EXPOSEd ones " + str(sorted(exposed)), set(ports.values()) == exposed),
    ("the container's args are the image's CMD " + str(image_cmd), args == image_cmd),
    ("the image's entry point is the launcher", image_entrypoint[0] in copies and copies[image_entrypoint[0]] == LAUNCHER),
    ("the jar is copied where the launcher looks for it (" + launcher_jar + ")", copies.get(launcher_jar) == "target/snigate.jar"),
    ("the class-data archive is made at build time (" + archive + "), so a read-only root file system only reads it",
     "ArchiveClassesAtExit" in launcher and archive in open(DOCKERFILE).read().split("ENV SNIGATE_CDS_ARCHIVE")[1]),
    (f"--config {config_path} is a key of the ConfigMap mounted at {config_dir}",
     config_volume is not None and config_volume.get("configMap", {}).get("name") == configmap["metadata"]["name"]
     and config_file in configmap["data"] and "subPath" not in config_mount),
    ("the ConfigMap's routes listen on every pod address, on the port named tls",
     listens and all(h in ("0.0.0.0", "::") and p == ports.get("tls") for h, p in listens)),
    ("the ConfigMap's admin address is every pod address, on the port named metrics",
     admin[0] in ("0.0.0.0", "::") and admin[1] == ports.get("metrics")),
    ("readiness and liveness probe the admin endpoint's /readyz and /healthz, on the port named metrics",
     container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
     and container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
     and {"/readyz", "/healthz", "/metrics"} <= admin_paths),
    ("the PodMonitor scrapes /metrics on a port the container has",
     all(e["port"] in ports and e.get("path", "/metrics") == "/metrics" for e in podmonitor["spec"]["podMetricsEndpoints"])),
    ("the Service targets ports the container has", all(p["targetPort"] in ports for p in service["spec"]["ports"])),
    ("the Service and the PodMonitor select the Deployment's pods",
     service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
     and podmonitor["spec"]["selector"]["matchLabels"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()),
    ("a non-root user may bind the tls port " + str(ports.get("tls")),
     ports.get("tls", 0) >= 1024 or int(sysctls.get("net.ipv4.ip_unprivileged_port_start", 1024)) <= ports["tls"]),
    ("a read-only root file system comes with a writable /tmp (Netty unpacks its native transport there)",
     not csecurity.get("readOnlyRootFilesystem") or (tmp_volume is not None and "emptyDir" in tmp_volume)),
    (f"terminationGracePeriodSeconds ({pod.get('terminationGracePeriodSeconds', 30)}) covers the preStop sleep "
     f"({pre_stop_seconds} s) and the ConfigMap's drain ({drain} s)",
     pod.get("terminationGracePeriodSeconds", 30) > pre_stop_seconds + drain),
]
failed = 0
for name, ok in checks:
    print(("ok    " if ok else "FAIL  ") + name)
    failed += not ok
sys.exit(1 if failed else 0)
