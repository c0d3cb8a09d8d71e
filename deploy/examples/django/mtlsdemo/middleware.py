"""Trust the X-SSL-Client-* headers only when the request came through certgate."""
import ipaddress
import socket
import time
from dataclasses import dataclass

from django.conf import settings

_IDENTITY_PREFIX = "HTTP_X_SSL_CLIENT_"  # X-SSL-Client-DN and X_SSL_CLIENT_DN both land here


@dataclass(frozen=True)
class ClientCertificate:
    subject: str
    issuer: str
    fingerprint: str
    san_uri: str


class _ProxyAddresses:
    """CERTGATE_PROXY_ADDRESSES: IP addresses, or host names (a compose service name such as
    "certgate") resolved again at most every 10 s, since a container's address can change."""

    def __init__(self, entries):
        self.ips = {e for e in entries if _is_ip(e)}
        self.names = [e for e in entries if not _is_ip(e)]
        self.resolved, self.expires = set(), 0.0

    def __contains__(self, address):
        if address in self.ips:
            return True
        if self.names and time.monotonic() >= self.expires:
            self.resolved = set()
            for name in self.names:
                try:
                    self.resolved |= {info[4][0] for info in socket.getaddrinfo(name, None)}
                except OSError:
                    pass
            self.expires = time.monotonic() + 10
        return address in self.resolved


def _is_ip(text):
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


class CertgateIdentityMiddleware:
    """Sets request.client_cert (a ClientCertificate, or None).

    certgate strips every client-sent identity header and writes its own, always including
    X-SSL-Client-Verify. A request from any other address, or one without that header, did
    not come through certgate: its identity headers are removed before any view sees them.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.proxies = _ProxyAddresses(settings.CERTGATE_PROXY_ADDRESSES)

    def __call__(self, request):
        meta = request.META
        via_certgate = (
            meta.get("REMOTE_ADDR") in self.proxies and "HTTP_X_SSL_CLIENT_VERIFY" in meta
        )
        if not via_certgate:
            for key in [k for k in meta if k.startswith(_IDENTITY_PREFIX)]:
                del meta[key]
        request.client_cert = None
        if via_certgate and meta["HTTP_X_SSL_CLIENT_VERIFY"] == "SUCCESS":
            request.client_cert = ClientCertificate(
                subject=meta.get("HTTP_X_SSL_CLIENT_DN", ""),
                issuer=meta.get("HTTP_X_SSL_CLIENT_ISSUER_DN", ""),
                fingerprint=meta.get("HTTP_X_SSL_CLIENT_FINGERPRINT", ""),
                san_uri=meta.get("HTTP_X_SSL_CLIENT_SAN_URI", ""),
            )
        return self.get_response(request)
