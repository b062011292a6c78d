"""Which paths typically hold credentials or private keys, by name and folder."""

from __future__ import annotations

import re
from pathlib import Path


def is_secret_path(path: Path) -> bool:
    """Whether `path` is a file that typically holds credentials or private keys."""
    if str(path).startswith(_KERNEL_FOLDERS):
        return True  # /proc/<pid>/environ, /proc/<pid>/mem and the like
    parts = [part.lower() for part in Path(path).parts]
    if not parts:
        return False
    name = parts[-1]
    parents = parts[:-1]

    if _is_env_file(name):
        return True
    if name in _SECRET_NAMES:
        return True
    if name.endswith(_SECRET_SUFFIXES):
        return True
    if name.startswith(("secrets.", "client_secret")):
        return True
    # Private SSH keys: id_rsa, id_ed25519_sk, id_github ... but not id_utils.py or *.pub.
    if (
        name.startswith("id_")
        and not name.endswith(".pub")
        and ("." not in name or _SSH_KEY.match(name) or ".ssh" in parents[-1:])
    ):
        return True
    if any(folder in _SECRET_FOLDERS for folder in parents):
        return True
    if parents and (parents[-1], name) in _SECRET_IN_FOLDER:
        return True
    for index in range(len(parents) - 1):
        if parents[index] == ".config" and parents[index + 1] == "gcloud":
            return name in _GCLOUD_SECRETS or "legacy_credentials" in parents[index + 2 :]
    return False


_ENV_TEMPLATES = frozenset({"example", "sample", "template", "dist"})


def _is_env_file(name: str) -> bool:
    """.env, .env.local, prod.env ... but not .env.example, .env.sample, .env.template."""
    if not (name == ".env" or name.startswith(".env.") or name.endswith(".env")):
        return False
    return not (set(name.split(".")) & _ENV_TEMPLATES)


_SECRET_NAMES = frozenset(
    {
        ".envrc",
        ".netrc",
        "_netrc",
        ".npmrc",
        ".pypirc",
        ".git-credentials",
        ".pgpass",
        ".htpasswd",
        ".dockercfg",
        "credentials.json",
        "application_default_credentials.json",
        "kubeconfig",
        "id_rsa",
        "id_dsa",
        "id_ecdsa",
        "id_ed25519",
        ".vault-token",
        ".s3cfg",
        ".boto",
        "terraform.tfstate",
        "terraform.tfstate.backup",
        "credentials.tfrc.json",
        "hosts.yml",  # gh's tokens
    }
)
_KERNEL_FOLDERS = ("/proc/", "/sys/", "/dev/")
_SECRET_SUFFIXES = (".pem", ".key", ".p12", ".pfx", ".keystore", ".jks", ".ppk")
# Every file under these folders is a credential or a token cache.
_SECRET_FOLDERS = frozenset({".aws", ".azure", ".password-store", ".gnupg"})
_SECRET_IN_FOLDER = frozenset({(".docker", "config.json"), (".kube", "config")})
_GCLOUD_SECRETS = frozenset(
    {"application_default_credentials.json", "credentials.db", "access_tokens.db"}
)
_SSH_KEY = re.compile(r"id_(rsa|dsa|ecdsa|ed25519|xmss)")
