"""Real-Debrid error codes and the exception that carries one to a JSON error response."""

from __future__ import annotations

from flask import Response, jsonify

from .dialects import DialectError

# Real-Debrid's numeric table (reference §1); clients key off the number, so the numbers must be
# exact and the strings are the ones the real API sends.
ERROR_NAMES: dict[int, str] = {
    -1: "internal_error",
    1: "parameter_missing",
    2: "parameter_bad_value",
    3: "unknown_method",
    4: "method_not_allowed",
    5: "slow_down",
    6: "ressource_unreachable",
    7: "unknown_ressource",
    8: "bad_token",
    9: "permission_denied",
    10: "two_factor_auth_needed",
    11: "two_factor_auth_pending",
    12: "invalid_login",
    13: "invalid_password",
    14: "account_locked",
    15: "account_not_activated",
    16: "hoster_unsupported",
    17: "hoster_in_maintenance",
    18: "hoster_limit_reached",
    19: "hoster_unavailable",
    20: "hoster_not_free",
    21: "too_many_active_downloads",
    22: "ip_not_allowed",
    23: "traffic_exhausted",
    24: "unavailable_file",
    25: "service_unavailable",
    26: "upload_too_big",
    27: "upload_error",
    28: "file_not_allowed",
    29: "torrent_too_big",
    30: "torrent_file_invalid",
    31: "action_already_done",
    32: "image_resolution_error",
    33: "torrent_already_active",
    34: "too_many_requests",
    35: "infringing_file",
    36: "fair_usage_limit",
    37: "disabled_endpoint",
}


class ApiError(DialectError):
    """A Real-Debrid error: the HTTP status and the numeric error code of the real API."""

    def __init__(self, status: int, error_code: int) -> None:
        super().__init__(f"{status} {ERROR_NAMES.get(error_code, 'unknown_error')}")
        self.status = status
        self.error_code = error_code

    def response(self) -> Response:
        return error_response(self.status, self.error_code)


def error_response(status: int, error_code: int) -> Response:
    """Build the `{"error", "error_code"}` envelope Real-Debrid sends with every failure."""
    response = jsonify(
        {"error": ERROR_NAMES.get(error_code, "unknown_error"), "error_code": error_code}
    )
    response.status_code = status
    return response


# The errors the routes raise, named once so a route reads like the reference.
def missing_parameter() -> ApiError:
    return ApiError(400, 1)


def bad_parameter() -> ApiError:
    return ApiError(400, 2)


def unknown_resource() -> ApiError:
    return ApiError(404, 7)
