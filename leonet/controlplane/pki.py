"""The cluster CA: generated at run time into a control plane's data directory (never committed).

ECDSA P-256 keys throughout: fast to generate and to handshake with, which matters for thousands of
agents on two cores.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=365)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(cn: str, orgs: Sequence[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(minutes=5)


class ClusterCA:
    """A self-signed CA that signs the API server's serving certificate and client certificates."""

    def __init__(self, key, cert: x509.Certificate):
        self.key = key
        self.cert = cert

    @classmethod
    def create(cls, common_name: str = "leonet-ca") -> "ClusterCA":
        key = new_key()
        name = _name(common_name)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(_now()).not_valid_after(_now() + 10 * VALIDITY)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        return cls(key, cert)

    @classmethod
    def load_or_create(cls, directory: Path) -> "ClusterCA":
        """Load ``ca.crt``/``ca.key`` from ``directory``, creating them on first use."""
        crt, key = directory / "ca.crt", directory / "ca.key"
        if crt.exists() and key.exists():
            return cls(serialization.load_pem_private_key(key.read_bytes(), None),
                       x509.load_pem_x509_certificate(crt.read_bytes()))
        ca = cls.create()
        write_private(key, key_pem(ca.key))
        crt.write_bytes(cert_pem(ca.cert))
        return ca

    @property
    def pem(self) -> bytes:
        return cert_pem(self.cert)

    def _sign(self, subject: x509.Name, public_key, usage, sans: Optional[List[x509.GeneralName]] = None,
              validity: dt.timedelta = VALIDITY) -> x509.Certificate:
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(self.cert.subject)
             .public_key(public_key).serial_number(x509.random_serial_number())
             .not_valid_before(_now()).not_valid_after(_now() + validity)
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, key_cert_sign=False,
                                          crl_sign=False, content_commitment=False, data_encipherment=False,
                                          key_agreement=False, encipher_only=False, decipher_only=False),
                            critical=True)
             .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                            critical=False))
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return b.sign(self.key, hashes.SHA256())

    def issue_server(self, hosts: Iterable[str]) -> Tuple[bytes, bytes]:
        """(cert PEM, key PEM) for the API server, valid for every IP address / DNS name in ``hosts``."""
        sans: List[x509.GeneralName] = []
        for h in dict.fromkeys(hosts):
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                sans.append(x509.DNSName(h))
        key = new_key()
        cert = self._sign(_name("kube-apiserver"), key.public_key(), [ExtendedKeyUsageOID.SERVER_AUTH], sans)
        return cert_pem(cert), key_pem(key)

    def issue_client(self, user: str, groups: Sequence[str] = ()) -> Tuple[bytes, bytes]:
        """(cert PEM, key PEM) for a client: CN is the user name, O the groups (as Kubernetes reads them)."""
        key = new_key()
        cert = self._sign(_name(user, groups), key.public_key(), [ExtendedKeyUsageOID.CLIENT_AUTH])
        return cert_pem(cert), key_pem(key)

    def sign_csr(self, csr_pem: bytes, client: bool = True,
                 validity: dt.timedelta = VALIDITY) -> bytes:
        """Sign a PKCS#10 request; the subject is kept as requested (the approver checked it)."""
        csr = x509.load_pem_x509_csr(csr_pem)
        if not csr.is_signature_valid:
            raise ValueError("CSR signature is invalid")
        usage = [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]
        return cert_pem(self._sign(csr.subject, csr.public_key(), usage, validity=validity))


def make_csr(user: str, groups: Sequence[str] = ()) -> Tuple[bytes, bytes]:
    """(CSR PEM, key PEM) for a client certificate, as a kubelet's TLS bootstrap makes it."""
    key = new_key()
    csr = x509.CertificateSigningRequestBuilder().subject_name(_name(user, groups)).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM), key_pem(key)


def csr_subject(csr_pem: bytes) -> Tuple[str, List[str]]:
    """(common name, organisations) of a PEM CSR."""
    csr = x509.load_pem_x509_csr(csr_pem)
    cn = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    orgs = csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return (str(cn[0].value) if cn else ""), [str(o.value) for o in orgs]


def cert_subject(cert_der_or_pem: bytes) -> Tuple[str, List[str]]:
    if cert_der_or_pem.startswith(b"-----"):
        cert = x509.load_pem_x509_certificate(cert_der_or_pem)
    else:
        cert = x509.load_der_x509_certificate(cert_der_or_pem)
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    orgs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return (str(cn[0].value) if cn else ""), [str(o.value) for o in orgs]


def write_private(path: Path, data: bytes) -> None:
    """Write a secret readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_bootstrap_token() -> str:
    """``[a-z0-9]{6}.[a-z0-9]{16}``, the format Kubernetes bootstrap tokens have."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    pick = lambda n: "".join(secrets.choice(alphabet) for _ in range(n))  # noqa: E731
    return f"{pick(6)}.{pick(16)}"
