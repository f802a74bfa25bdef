"""TLS for the worker's API: the server's context, and the local CLI's, pinned to the worker's certificate."""

from __future__ import annotations

import ssl
from pathlib import Path


def server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """The API's TLS: TLS 1.2 at least, with the operator's certificate chain and key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context


def pinned_client_context(cert_file: Path) -> ssl.SSLContext:
    """For the CLI on the worker's own machine: it trusts exactly the worker's certificate file.

    The CLI reaches the worker at 127.0.0.1, a name the certificate need not
    carry, so the host name is not checked; the chain must still end in a
    certificate of that file (a partial chain is enough: the leaf itself).
    """
    context = ssl.create_default_context(cafile=str(cert_file))
    context.check_hostname = False
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context
