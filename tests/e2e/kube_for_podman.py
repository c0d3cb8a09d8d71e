"""Rewrites deploy/kubernetes for `podman kube play` on one machine (podman 4.3).

Usage: kube_for_podman.py DEPLOY_DIR OUT.yaml NAME TLS_DIR TLS_PORT ADMIN_PORT IMAGE APP_IMAGE

Only what a local run needs changes; everything else (securityContext, probes, resources,
the ConfigMap) is played as written:
- the `tls` Secret volume becomes a hostPath of TLS_DIR: podman 4.3 mounts Secret files still
  base64-encoded (and panics without `optional: false`);
- images are the ones this CI run built; one replica; names made unique with NAME;
- certgate's ports are published on 127.0.0.1 (hostIP/hostPort) so the test can reach them;
- the app accepts Host localhost and trusts https://localhost:TLS_PORT for CSRF.
"""
import sys

import yaml

deploy_dir, out, name, tls_dir, tls_port, admin_port, image, app_image = sys.argv[1:]
with open(f"{deploy_dir}/configmap.yaml") as f:
    configmap = yaml.safe_load(f)
with open(f"{deploy_dir}/deployment.yaml") as f:
    deployment = yaml.safe_load(f)

configmap["metadata"]["name"] = f"{name}-config"
deployment["metadata"]["name"] = name
spec = deployment["spec"]
spec["replicas"] = 1
pod = spec["template"]["spec"]
for volume in pod["volumes"]:
    if volume["name"] == "config":
        volume["configMap"]["name"] = f"{name}-config"
    if "secret" in volume:
        del volume["secret"]
        volume["hostPath"] = {"path": tls_dir, "type": "Directory"}
for container in pod["containers"]:
    if container["name"] == "certgate":
        container["image"] = image
        published = {"https": tls_port, "admin": admin_port}
        for port in container["ports"]:
            port["hostIP"] = "127.0.0.1"
            port["hostPort"] = int(published[port["name"]])
    else:
        container["image"] = app_image
        for env in container.get("env", []):
            if env["name"] == "DJANGO_ALLOWED_HOSTS":
                env["value"] += ",localhost"
            if env["name"] == "CSRF_TRUSTED_ORIGINS":
                env["value"] = f"https://localhost:{tls_port}"

with open(out, "w") as f:
    yaml.safe_dump_all([configmap, deployment], f, sort_keys=False)
