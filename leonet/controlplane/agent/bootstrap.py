"""The kubelet's TLS bootstrap: with a bootstrap token, request a client certificate through a
certificates.k8s.io/v1 CertificateSigningRequest and wait until the control plane signs it."""
from __future__ import annotations

import asyncio
import base64
import time
from typing import Tuple

from ..errors import ApiError
from ..pki import make_csr
from .connection import ApiConnection

CSR_API = "certificates.k8s.io/v1"
KUBELET_CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"


async def request_node_certificate(conn: ApiConnection, node: str, timeout: float = 60.0,
                                   poll: float = 0.2) -> Tuple[bytes, bytes]:
    """(cert PEM, key PEM) for ``system:node:<node>``; ``conn`` authenticates with a bootstrap token."""
    csr_pem, key_pem = make_csr(f"system:node:{node}", ["system:nodes"])
    body = {"apiVersion": CSR_API, "kind": "CertificateSigningRequest",
            "metadata": {"generateName": f"node-csr-{node}-"},
            "spec": {"request": base64.b64encode(csr_pem).decode(), "signerName": KUBELET_CLIENT_SIGNER,
                     "usages": ["digital signature", "client auth"]}}
    created = await conn.create(CSR_API, "certificatesigningrequests", body)
    name = created["metadata"]["name"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        csr = await conn.get(CSR_API, "certificatesigningrequests", name)
        st = csr.get("status", {})
        for c in st.get("conditions", []) or []:
            if c.get("type") in ("Denied", "Failed"):
                raise ApiError(403, f"certificate request {name} {c['type'].lower()}: {c.get('message', '')}",
                               "Forbidden")
        if st.get("certificate"):
            return base64.b64decode(st["certificate"]), key_pem
        await asyncio.sleep(poll)
    raise ApiError(504, f"certificate request {name} not signed within {timeout:.0f}s", "Timeout")
