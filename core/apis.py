"""Base classes of the apps' API views."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.request import Request
from rest_framework.views import APIView


class SideEffectingGetApi(APIView):
    """An API view whose GET changes state: an exchange, a hand-over, an audited read.

    Django answers HEAD with the GET handler and DRF answers OPTIONS itself; both are "safe"
    (RFC 9110, 9.2.1), so a client or a proxy may send them freely, and here each would run the
    operation (a use of the consent counted, events written) or reveal it. Only GET is served
    among the safe methods: the others are 405 before authentication, so nothing at all runs.
    """

    http_method_names = ["get", "post", "put", "patch", "delete"]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method is None or request.method.lower() not in self.http_method_names:
            raise drf_exceptions.MethodNotAllowed(request.method or "")
        super().initial(request, *args, **kwargs)


class QuerySerializer(serializers.Serializer[Any]):
    """The parameters of a query string. DRF reads `?status=` as if `status` were left out; the
    schema says an empty value is not one of the values allowed, so it is refused like another.
    A parameter the operation does not know is refused too: `?stauts=revoked` would otherwise
    answer every consent as if it had filtered them."""

    def to_internal_value(self, data: Any) -> Any:
        names = [str(name) for name in self.fields]
        unknown = sorted(set(data) - set(names)) if hasattr(data, "keys") else []
        if unknown:
            raise drf_exceptions.ValidationError(
                {name: [ErrorDetail("This operation has no such parameter.", code="unknown")] for name in unknown}
            )
        empty = [name for name in names if hasattr(data, "getlist") and "" in data.getlist(name)]
        if empty:
            raise drf_exceptions.ValidationError(
                {name: [ErrorDetail("Leave the parameter out rather than empty.", code="blank")] for name in empty}
            )
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A JSON string, and only one: DRF's CharField takes 0 or 1.5 for "0" and "1.5"."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StrictRegexField(serializers.RegexField):
    """A JSON string matching the pattern (see StrictCharField)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer, and only one: DRF's IntegerField takes "5" and 5.0 for 5."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class StrictBooleanField(serializers.BooleanField):
    """A JSON true or false, and only one: DRF's BooleanField takes "yes", 1 and "on" too."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data
