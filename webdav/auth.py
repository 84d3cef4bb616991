"""WebDAV authentication: Basic with the login credentials or the API key, or none."""

from __future__ import annotations

from typing import Any

from wsgidav.dav_error import HTTP_FORBIDDEN, DAVError
from wsgidav.dc.base_dc import BaseDomainController

from core.auth import Authenticator, Surface
from core.errors import LoginBanned

CONFIG_KEY = "debridge"   # where make_dav_app puts what the controller needs
REALM = "Debridge"


class DebridgeDomainController(BaseDomainController):
    """WsgiDAV builds it as cls(app, config); our objects come through the config."""

    def __init__(self, wsgidav_app: Any, config: dict[str, Any]) -> None:
        super().__init__(wsgidav_app, config)
        options = config[CONFIG_KEY]
        self.authenticator: Authenticator = options["authenticator"]
        self.required: bool = options["auth"] == "basic"

    def __str__(self) -> str:
        return f"{self.__class__.__name__}()"

    def get_domain_realm(self, path_info: str, environ: dict[str, Any]) -> str:
        return REALM

    def require_authentication(self, realm: str, environ: dict[str, Any]) -> bool:
        return self.required

    def basic_auth_user(self, realm: str, user_name: str, password: str,
                        environ: dict[str, Any]) -> bool:
        ip = environ.get("REMOTE_ADDR", "")
        try:
            return self.authenticator.credentials_valid(user_name, password, ip,
                                                        Surface.WEBDAV)
        except LoginBanned as banned:
            raise DAVError(HTTP_FORBIDDEN, f"WebDAV: {banned}") from None

    def supports_http_digest_auth(self) -> bool:
        return False
