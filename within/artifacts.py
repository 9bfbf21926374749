"""Versioned model artifacts: a folder of safe files and a manifest that pins them.

An artifact folder holds the files a model plugin writes (no pickle) and
``manifest.json``: plugin, parameters, schema, metrics, data fingerprint, library
versions and a SHA-256 per file. It is written into a temporary sibling folder
and renamed into place, so a reader never sees half an artifact. Loading checks
every checksum and refuses a folder that does not match its manifest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import platform
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Optional

from within._validation import validate
from within.errors import ArtifactError, ConfigError
from within.schema import FeatureSchema
from within.types import Model

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
REQUIRED_KEYS = {"plugin": dict, "params": dict, "schema": dict, "files": dict}
FORMAT = "within-model"
FORMAT_VERSION = 1
#: Libraries whose versions are pinned in every manifest when installed.
PINNED_LIBRARIES = ("within", "numpy", "pandas", "scikit-learn", "xgboost", "torch",
                    "safetensors", "ray")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PINNED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def new_version() -> str:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


def save_artifact(model: Model, destination: str | Path, *, metrics: dict[str, Any],
                  data_fingerprint: Optional[str], extra: Optional[dict] = None,
                  registry=None) -> Path:
    """Write ``model`` to ``destination`` atomically; return the folder.

    ``destination`` must not exist yet: artifacts are immutable once written.
    """
    destination = Path(destination)
    if destination.exists():
        raise ArtifactError(f"{destination} already exists; artifacts are never "
                            "overwritten, choose a new folder")
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        written = model.save(staging)
        files = {}
        for name in sorted(written):
            path = staging / name
            if not path.is_file():
                raise ArtifactError(f"model {model.name} reported writing {name}, "
                                    "but no such file exists")
            files[name] = sha256_file(path)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "version": new_version(),
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "plugin": {"name": model.name,
                       "class": f"{type(model).__module__}.{type(model).__qualname__}"},
            "params": model.params.model_dump(mode="json"),
            "schema": model.schema.model_dump(mode="json"),
            "metrics": metrics,
            "data_fingerprint": data_fingerprint,
            "libraries": library_versions(),
            "files": files,
            **(extra or {}),
        }
        _write_json(staging / MANIFEST, manifest)
        _fsync_dir(staging)
        os.rename(staging, destination)
        _fsync_dir(destination.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("Saved model artifact %s (version %s)", destination, manifest["version"])
    if registry is not None:
        registry.hook().within_artifact_saved(path=destination, manifest=manifest)
    return destination


@dataclass
class LoadedArtifact:
    path: Path
    manifest: dict
    model: Model

    @property
    def schema(self) -> FeatureSchema:
        return self.model.schema


def read_manifest(folder: str | Path) -> dict:
    folder = Path(folder)
    if folder.is_file():
        raise ArtifactError(f"{folder} is a file; give the model folder that holds "
                            f"{MANIFEST}")
    if not folder.is_dir():
        raise ArtifactError(f"model folder {folder} does not exist")
    path = folder / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{folder} has no {MANIFEST}; it is not a within model")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{path} holds {type(manifest).__name__}, not a manifest")
    if manifest.get("format") != FORMAT:
        raise ArtifactError(f"{path}: format is {manifest.get('format')!r}, expected "
                            f"{FORMAT!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{path}: format_version {manifest.get('format_version')!r} is not "
            f"supported by this within (reads version {FORMAT_VERSION})")
    for key, kind in REQUIRED_KEYS.items():
        if not isinstance(manifest.get(key), kind):
            raise ArtifactError(f"{path}: {key!r} is missing or not a {kind.__name__}; "
                                "the manifest is damaged")
    if not isinstance(manifest["plugin"].get("name"), str):
        raise ArtifactError(f"{path}: 'plugin' names no model plugin; the manifest is "
                            "damaged")
    return manifest


def verify_files(folder: Path, manifest: dict) -> None:
    """Refuse a folder whose files differ from the checksums in its manifest."""
    for name, expected in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            raise ArtifactError(f"{folder}: file {name} listed in the manifest is missing")
        actual = sha256_file(path)
        if actual != expected:
            raise ArtifactError(
                f"{folder}: file {name} does not match its checksum (manifest "
                f"{expected[:12]}…, file {actual[:12]}…); the artifact was modified "
                "after it was saved and is refused")


def load_artifact(folder: str | Path, registry=None) -> LoadedArtifact:
    """Verify and load a saved model."""
    from within.registry import get_registry

    folder = Path(folder)
    manifest = read_manifest(folder)
    verify_files(folder, manifest)
    registry = registry or get_registry()
    plugin = manifest["plugin"]["name"]
    try:
        cls = registry.get("model", plugin, path="manifest.plugin.name")
    except ConfigError as exc:
        raise ArtifactError(f"{folder}: saved by model plugin {plugin!r}, which is not "
                            f"installed ({exc.message})") from None
    try:
        params = validate(cls.Params, manifest["params"], prefix="manifest.params")
        schema = validate(FeatureSchema, manifest["schema"], prefix="manifest.schema")
    except ConfigError as exc:
        raise ArtifactError(f"{folder}: {exc}") from None
    # The manifest is not signed: a file dropped from its list would escape the
    # checksums, so the plugin's own files must all be listed.
    unlisted = [name for name in cls.artifact_files if name not in manifest["files"]]
    if unlisted:
        raise ArtifactError(f"{folder}: the manifest does not list {', '.join(unlisted)}, "
                            f"which model plugin {plugin!r} needs; it was edited and is "
                            "refused")
    _warn_on_library_drift(folder, manifest)
    try:
        model = cls.load(folder, params, schema)
    except (ValueError, KeyError, TypeError, IndexError, OSError, RuntimeError) as exc:
        raise ArtifactError(f"{folder}: model plugin {plugin!r} could not load its "
                            f"files: {type(exc).__name__}: {exc}") from None
    return LoadedArtifact(folder, manifest, model)


def _warn_on_library_drift(folder: Path, manifest: dict) -> None:
    now = library_versions()
    for name, saved in manifest.get("libraries", {}).items():
        current = now.get(name)
        if current and saved.split(".")[:2] != current.split(".")[:2]:
            logger.warning("%s was saved with %s %s; this process has %s", folder, name,
                           saved, current)


def _write_json(path: Path, data: Any) -> None:
    with open(path, "w") as handle:
        json.dump(data, handle, indent=2, sort_keys=False, default=_json_default)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())


def _json_default(value: Any):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write JSON to ``path`` through a temporary file and a rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    _write_json(tmp, data)
    tmp.replace(path)
