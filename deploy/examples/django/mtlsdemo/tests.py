"""The middleware's own rule, without certgate: identity headers count only from certgate."""
from django.test import SimpleTestCase

FORGED = {"HTTP_X_SSL_CLIENT_VERIFY": "SUCCESS", "HTTP_X_SSL_CLIENT_DN": "CN=admin"}


class CertgateIdentityMiddlewareTest(SimpleTestCase):
    def test_headers_from_another_address_are_dropped(self):
        response = self.client.get("/whoami", REMOTE_ADDR="192.0.2.7", **FORGED)
        self.assertEqual(response.status_code, 403)

    def test_headers_from_certgate_are_trusted(self):
        response = self.client.get("/whoami", REMOTE_ADDR="127.0.0.1", **FORGED)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["dn"], "CN=admin")

    def test_failed_verification_is_not_an_identity(self):
        headers = {"HTTP_X_SSL_CLIENT_VERIFY": "FAILED:certificate has expired"}
        response = self.client.get("/whoami", REMOTE_ADDR="127.0.0.1", **headers)
        self.assertEqual(response.status_code, 403)

    def test_proxy_given_by_host_name(self):
        from django.test import override_settings

        with override_settings(CERTGATE_PROXY_ADDRESSES=["localhost"]):
            response = self.client.get("/whoami", REMOTE_ADDR="127.0.0.1", **FORGED)
        self.assertEqual(response.status_code, 200)
