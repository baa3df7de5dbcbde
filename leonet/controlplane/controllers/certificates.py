"""CertificateSigningRequests: auto-approval of kubelet client certificates requested through TLS
bootstrap (as kube-controller-manager's csrapproving does), and signing of approved client CSRs with
the cluster CA (csrsigning)."""
from __future__ import annotations

import asyncio
import base64
import copy
import logging

from ..errors import ApiError
from ..pki import ClusterCA, csr_subject
from ..timefmt import now_rfc3339
from ..watch import DELETED, Event

log = logging.getLogger("leonet.controlplane.certificates")

KUBELET_CLIENT = "kubernetes.io/kube-apiserver-client-kubelet"
CLIENT = "kubernetes.io/kube-apiserver-client"
CSR_KEY = "certificatesigningrequests.certificates.k8s.io"


def _cond(csr: dict, t: str) -> bool:
    return any(c.get("type") == t and c.get("status", "True") == "True"
               for c in csr.get("status", {}).get("conditions", []) or [])


class CertificateController:
    def __init__(self, api, ca: ClusterCA, auto_approve: bool = True):
        self.api, self.ca, self.auto_approve = api, ca, auto_approve
        self._wake = asyncio.Event()

    def on_event(self, ev: Event) -> None:
        if ev.key == CSR_KEY and ev.type != DELETED:
            self._wake.set()

    async def run(self) -> None:
        self._wake.set()
        while True:
            await self._wake.wait()
            self._wake.clear()
            for csr in list(self.api.store.list(CSR_KEY)):
                try:
                    self.reconcile(csr)
                except ApiError as e:
                    log.debug("csr %s: %s", csr["metadata"]["name"], e)
                except ValueError as e:
                    self._fail(csr, str(e))

    def _rt(self):
        return self.api.resource("certificates.k8s.io", "v1", "certificatesigningrequests")

    def reconcile(self, csr: dict) -> None:
        spec = csr.get("spec", {})
        if _cond(csr, "Denied") or _cond(csr, "Failed") or csr.get("status", {}).get("certificate"):
            return
        if not _cond(csr, "Approved"):
            if self.auto_approve and self._kubelet_client_ok(csr):
                new = copy.deepcopy(csr)
                new.setdefault("status", {}).setdefault("conditions", []).append(
                    {"type": "Approved", "status": "True", "reason": "AutoApproved",
                     "message": "Auto approving kubelet client certificate after SubjectAccessReview.",
                     "lastUpdateTime": now_rfc3339(), "lastTransitionTime": now_rfc3339()})
                self.api.update(self._rt(), None, csr["metadata"]["name"], new, "approval")
            return
        if spec.get("signerName") not in (KUBELET_CLIENT, CLIENT):
            return  # another signer's job
        cert = self.ca.sign_csr(base64.b64decode(spec["request"]), client=True)
        new = copy.deepcopy(csr)
        new.setdefault("status", {})["certificate"] = base64.b64encode(cert).decode()
        self.api.update(self._rt(), None, csr["metadata"]["name"], new, "status")

    @staticmethod
    def _kubelet_client_ok(csr: dict) -> bool:
        spec = csr.get("spec", {})
        if spec.get("signerName") != KUBELET_CLIENT:
            return False
        groups = set(spec.get("groups", []))
        if not groups & {"system:bootstrappers", "system:nodes"}:
            return False
        cn, orgs = csr_subject(base64.b64decode(spec["request"]))
        if not cn.startswith("system:node:") or orgs != ["system:nodes"]:
            return False
        # a node may only renew its own identity
        if "system:nodes" in groups and "system:bootstrappers" not in groups and spec.get("username") != cn:
            return False
        return True

    def _fail(self, csr: dict, message: str) -> None:
        new = copy.deepcopy(csr)
        new.setdefault("status", {}).setdefault("conditions", []).append(
            {"type": "Failed", "status": "True", "reason": "SignerValidationFailure", "message": message,
             "lastUpdateTime": now_rfc3339(), "lastTransitionTime": now_rfc3339()})
        try:
            self.api.update(self._rt(), None, csr["metadata"]["name"], new, "status")
        except ApiError:
            pass
