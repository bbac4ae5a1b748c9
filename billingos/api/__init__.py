"""The JSON API, defined once for both adapters: ``billing.api.handle(ApiRequest(...)) -> ApiResponse``,
its operations (``OPERATIONS``), its OpenAPI document and the ``billingos.js`` client."""

from .openapi import SECURITY_SCHEME, TITLE, VERSION, component_schemas, openapi_document, operation_spec
from .operations import OPERATIONS, Operation
from .service import MAX_BODY, ApiRequest, ApiResponse, JsonApi
from .static import CLIENT_JS, client_js

__all__ = [
           "CLIENT_JS",
           "MAX_BODY",
           "OPERATIONS",
           "SECURITY_SCHEME",
           "TITLE",
           "VERSION",
           "ApiRequest",
           "ApiResponse",
           "JsonApi",
           "Operation",
           "client_js",
           "component_schemas",
           "openapi_document",
           "operation_spec",
]
