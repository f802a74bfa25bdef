"""A throwaway certificate authority for the tests' TLS, made with the openssl command."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


class TestCA:
    """A CA in `directory` that issues server and client certificates for a day."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, directory: Path, name: str = "borderwatch test CA") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.cert, self.key = directory / "ca.pem", directory / "ca.key"
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
                 "-keyout", str(self.key), "-out", str(self.cert))  # fmt: skip

    def issue(self, name: str, *, client: bool = False, passphrase: str | None = None) -> Issued:
        """A certificate for `name` (and 127.0.0.1) signed by this CA; its key encrypted with `passphrase`."""
        cert, key, csr = (self.directory / f"{name}.{ext}" for ext in ("pem", "key", "csr"))
        key_opts = ["-passout", f"pass:{passphrase}"] if passphrase else ["-nodes"]
        _openssl("req", "-new", "-newkey", "rsa:2048", *key_opts, "-subj", f"/CN={name}",
                 "-keyout", str(key), "-out", str(csr))  # fmt: skip
        usage = "clientAuth" if client else "serverAuth"
        extensions = self.directory / f"{name}.ext"
        extensions.write_text(f"subjectAltName=DNS:{name},IP:127.0.0.1\nextendedKeyUsage={usage}\n")
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(self.cert), "-CAkey", str(self.key),
                 "-CAcreateserial", "-days", "1", "-extfile", str(extensions), "-out", str(cert))  # fmt: skip
        return Issued(cert, key)
