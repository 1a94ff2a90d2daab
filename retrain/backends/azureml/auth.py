"""OAuth 2.0 bearer tokens for Azure with msal: a client secret, a certificate, or GitHub OIDC federation.

msal keeps tokens in memory and hands back a cached one until it is close to expiry, so asking it on
every request (``AzureAuth.__call__``) renews tokens during a long wait without any bookkeeping here.
msal's HTTP goes through our session, so timeouts, retries and the test fakes apply to it too.
Secrets and tokens are never part of a ``repr`` or a message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import msal
import requests

from ...errors import CredentialError
from ...http import Session

OIDC_AUDIENCE = "api://AzureADTokenExchange"


@dataclass(frozen=True)
class Cloud:
    authority_host: str
    arm_endpoint: str


CLOUDS = {
    "public": Cloud("https://login.microsoftonline.com", "https://management.azure.com"),
    "china": Cloud("https://login.chinacloudapi.cn", "https://management.chinacloudapi.cn"),
    "usgov": Cloud("https://login.microsoftonline.us", "https://management.usgovcloudapi.net"),
}

KNOWN_AUTHORITY_HOSTS = {cloud.authority_host for cloud in CLOUDS.values()}


@dataclass(frozen=True)
class AzureCredentials:
    tenant_id: str
    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    certificate_pem: str | None = field(default=None, repr=False)  # private key + certificate, PEM
    oidc_request_url: str | None = field(default=None, repr=False)
    oidc_request_token: str | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        if self.client_secret:
            return "client secret"
        if self.certificate_pem:
            return "certificate"
        return "GitHub OIDC federation"


def _input(environ: Mapping[str, str], name: str) -> str:
    # GitHub keeps the hyphen in INPUT_AZURE-CLIENT-ID; accept the underscore form as well.
    key = f"INPUT_{name.upper()}"
    return (environ.get(key) or environ.get(key.replace("-", "_")) or "").strip()


def credentials_from_env(environ: Mapping[str, str], *, tenant_id: str | None = None, client_id: str | None = None) -> AzureCredentials:
    """Action inputs first, then AZURE_* variables, then the parameter file's ids."""
    def pick(input_name: str, variable: str, fallback: str | None = None) -> str:
        return _input(environ, input_name) or environ.get(variable, "").strip() or (fallback or "")

    tenant = pick("azure-tenant-id", "AZURE_TENANT_ID", tenant_id)
    client = pick("azure-client-id", "AZURE_CLIENT_ID", client_id)
    secret = pick("azure-client-secret", "AZURE_CLIENT_SECRET") or None
    certificate = pick("azure-client-certificate", "AZURE_CLIENT_CERTIFICATE") or None
    if certificate and "-----BEGIN" not in certificate:
        path = Path(certificate)
        if not path.is_file():
            raise CredentialError(f"AZURE_CLIENT_CERTIFICATE names {path}, which does not exist. Give the PEM text or a path to it.")
        certificate = path.read_text()
    missing = [n for n, v in (("azure-tenant-id / AZURE_TENANT_ID", tenant), ("azure-client-id / AZURE_CLIENT_ID", client)) if not v]
    if missing:
        raise CredentialError(f"missing Azure credentials: {', '.join(missing)}. Set them as action inputs or environment variables (docs/azure.md).")
    request_url = environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")
    request_token = environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if not secret and not certificate and not (request_url and request_token):
        raise CredentialError(
            "no Azure credential: give azure-client-secret or azure-client-certificate, or use GitHub OIDC federation "
            "by adding `permissions: id-token: write` to the job (docs/azure.md)."
        )
    return AzureCredentials(tenant, client, secret, certificate, request_url, request_token)


def _certificate_credential(pem: str) -> dict[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise CredentialError("the Azure client certificate is not a PEM certificate with its private key.") from None
    thumbprint = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest()  # noqa: S324 - Azure AD's x5t is SHA-1
    return {"private_key": pem, "thumbprint": thumbprint, "public_certificate": cert.public_bytes(serialization.Encoding.PEM).decode()}


class TokenProvider:
    """One msal application for one identity; tokens per scope, cached and renewed by msal."""

    def __init__(self, credentials: AzureCredentials, session: Session, *, authority_host: str) -> None:
        self.credentials = credentials
        self.session = session
        credential: object
        if credentials.client_secret:
            credential = credentials.client_secret
        elif credentials.certificate_pem:
            credential = _certificate_credential(credentials.certificate_pem)
        else:
            credential = {"client_assertion": self._github_id_token}  # msal calls it only when it needs a new token
        try:
            self.app = msal.ConfidentialClientApplication(
                credentials.client_id,
                authority=f"{authority_host.rstrip('/')}/{credentials.tenant_id}",
                client_credential=credential,
                http_client=session,
                # Instance discovery asks the public cloud about the authority; for a host we were told to
                # use (a sovereign cloud's, AZURE_AUTHORITY_HOST) that question has no useful answer.
                instance_discovery=authority_host.rstrip("/") in KNOWN_AUTHORITY_HOSTS,
                token_cache=msal.TokenCache(),
            )
        except ValueError as e:  # msal checks the authority's shape and fetches its metadata here
            raise CredentialError(f"the Azure AD authority {authority_host} was refused: {e}. Check AZURE_AUTHORITY_HOST and the tenant id.") from None
        except requests.RequestException as e:
            raise CredentialError(f"could not reach the Azure AD authority {authority_host} ({type(e).__name__}).") from None

    def _github_id_token(self) -> str:
        url = f"{self.credentials.oidc_request_url}&audience={quote(OIDC_AUDIENCE, safe='')}"
        try:
            response = self.session.get(url, headers={"Authorization": f"Bearer {self.credentials.oidc_request_token}"})
        except requests.RequestException as e:
            raise CredentialError(f"could not get GitHub's OIDC token ({type(e).__name__}).") from None
        if response.status_code != 200:
            raise CredentialError(
                f"GitHub refused the OIDC token request ({response.status_code}). The job needs `permissions: id-token: write`."
            )
        value = response.json().get("value")
        if not value:
            raise CredentialError("GitHub's OIDC answer had no token.")
        return str(value)

    def forget_tokens(self) -> None:
        """Drop cached tokens, so the next request gets a fresh one (after Azure rejected one)."""
        self.app.token_cache = msal.TokenCache()

    def token(self, scope: str) -> str:
        try:
            result = self.app.acquire_token_for_client(scopes=[scope])
        except requests.RequestException as e:
            raise CredentialError(f"could not reach Azure AD for a token ({type(e).__name__}).") from None
        if "access_token" not in result:
            code = result.get("error", "unknown_error")
            # The description can be long; its first line says what is wrong (e.g. AADSTS7000215: invalid secret).
            description = str(result.get("error_description", "")).splitlines()[0] if result.get("error_description") else ""
            raise CredentialError(
                f"Azure AD refused a token for {self.credentials.client_id} ({self.credentials.kind}): {code}: {description} "
                "Check the tenant id, client id and the secret, certificate or federated credential."
            )
        return str(result["access_token"])


class AzureAuth(requests.auth.AuthBase):
    """Adds ``Authorization: Bearer`` for one scope, asking the provider on every request."""

    def __init__(self, provider: TokenProvider, scope: str) -> None:
        self.provider = provider
        self.scope = scope

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.provider.token(self.scope)}"
        return request

    def __repr__(self) -> str:
        return f"AzureAuth(scope={self.scope!r})"

