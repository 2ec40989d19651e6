"""`services.<service>`: one model per service, with that service's own keys and types.

The keys are the ones its monitor reads from `target.settings` (monitors/<service>.py);
docs/configuration.md lists them. `ServiceConfig.options()` is what the monitor is handed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, ClassVar

from pydantic import (
    Field,
    PositiveFloat,
    PositiveInt,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from healthmon.config.fields import (
    HttpUrl,
    PostgresDsn,
    RedisUrl,
    RequiredHttpUrl,
    StrictModel,
    Text,
    problem,
    relocated,
    unknown_message,
    url_template_problem,
)

#: keys every service has; the rest are the service's own options
COMMON_KEYS = ("enabled", "timeout_s", "thresholds", "slo")
_BOOL: TypeAdapter[bool] = TypeAdapter(bool)


class ThresholdConfig(StrictModel):
    degraded: float | None = None
    unhealthy: float | None = None
    inverse: bool = False


class SloConfig(StrictModel):
    """`services.<s>.slo`: the uptime every target of the service should reach (alerting/slo.py)."""

    #: percent of observed time up; below 100, since 100 leaves no error budget to burn
    objective: float = Field(gt=0, lt=100)
    window_days: int = Field(default=30, ge=1, le=90)


def _unset(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class ServiceConfig(StrictModel):
    """What every service has. Subclasses declare the service's own options."""

    #: option keys the monitor cannot decide without; required while the service is enabled
    required_when_enabled: ClassVar[tuple[str, ...]] = ()

    enabled: bool = True
    timeout_s: PositiveFloat | None = None
    thresholds: dict[str, ThresholdConfig] = Field(default_factory=dict)
    #: off unless given
    slo: SloConfig | None = None

    def options(self) -> dict[str, Any]:
        """Everything a monitor is handed: the options given in the file (not their defaults,
        which are the monitor's own)."""
        return self.model_dump(exclude_unset=True, exclude_none=True, exclude=set(COMMON_KEYS))

    @classmethod
    def missing_when_enabled(cls, data: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(key, message) for what an enabled service lacks, judged on the raw mapping so that
        it is reported together with every other problem of the service."""
        return [
            (key, "required while the service is enabled (or set enabled: false)")
            for key in cls.required_when_enabled
            if _unset(data.get(key))
        ]

    @model_validator(mode="wrap")
    @classmethod
    def _required(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        missing: list[InitErrorDetails] = []
        if isinstance(data, Mapping):
            try:
                enabled = _BOOL.validate_python(data.get("enabled", True))
            except ValidationError:
                enabled = False  # the bad value is reported by the field itself
            if enabled:
                missing = [
                    problem("missing_option", (key,), msg) for key, msg in cls.missing_when_enabled(data)
                ]
        try:
            validated = handler(data)
        except ValidationError as exc:
            raise ValidationError.from_exception_data(
                cls.__name__, [*relocated(exc.errors()), *missing]
            ) from None
        if missing:
            raise ValidationError.from_exception_data(cls.__name__, missing)
        return validated


class HttpService(ServiceConfig):
    #: the upstream's base URL (every one is configurable, so the sandbox can stand in)
    base_url: HttpUrl = None


class PostgresOptions(ServiceConfig):
    required_when_enabled = ("dsn",)
    dsn: PostgresDsn = None
    long_query_s: PositiveFloat | None = None
    idle_in_transaction_s: PositiveFloat | None = None
    connect_timeout_s: PositiveFloat | None = None


class RedisOptions(ServiceConfig):
    required_when_enabled = ("url",)
    url: RedisUrl = None
    connect_timeout_s: PositiveFloat | None = None


class ShopifyOptions(ServiceConfig):
    #: a template: `{shop}` becomes each tenant's `<name>.myshopify.com`
    base_url: str | None = None
    api_version: Text | None = None

    @field_validator("base_url")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None
        if value is not None:
            found = url_template_problem(value, "{shop}", "shop.myshopify.com")
            if found is not None:
                raise ValueError(found)
        return value


class StripeOptions(HttpService):
    required_when_enabled = ("api_key",)
    api_key: Text | None = None
    api_version: Text | None = None
    #: a Connect account id (Stripe-Account header)
    account: Text | None = None


class InngestOptions(HttpService):
    required_when_enabled = ("signing_key",)
    signing_key: Text | None = None
    #: a branch environment (X-Inngest-Env)
    env: Text | None = None
    failed_window_s: PositiveInt | None = None


class MetaAdsOptions(HttpService):
    required_when_enabled = ("app_id", "app_secret")
    api_version: Text | None = None
    app_id: Text | None = None
    app_secret: Text | None = None


class GoogleAdsOptions(HttpService):
    required_when_enabled = ("client_id", "client_secret")
    oauth_url: HttpUrl = None
    api_version: Text | None = None
    client_id: Text | None = None
    client_secret: Text | None = None
    developer_token: Text | None = None


class TikTokAdsOptions(HttpService):
    # the OAuth endpoints' app credentials; advertiser/info itself needs only the tenant's token
    app_id: Text | None = None
    secret: Text | None = None


class WiseOptions(HttpService):
    required_when_enabled = ("api_token",)
    api_token: Text | None = None
    profile_id: Text | None = None
    api_path: Text | None = None

    @field_validator("api_path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError("must be a path starting with /, e.g. /v2/profiles")
        return value


#: the stateless protocol version; monitors/mcp.py MODERN_VERSION (a test holds them equal)
MCP_MODERN_VERSION = "2026-07-28"


class McpOptions(HttpService):
    required_when_enabled = ("base_url",)
    token: Text | None = None
    protocol_version: Text | None = None
    modern_protocol_version: Text | None = None
    mode: Text | None = None

    @field_validator("mode")
    @classmethod
    def _mode(cls, value: str | None, info: ValidationInfo) -> str | None:
        modern = info.data.get("modern_protocol_version") or MCP_MODERN_VERSION
        if value not in (None, "auto", "legacy", modern):
            raise ValueError(f"must be auto, legacy or {modern}")
        return value


class MuxOptions(HttpService):
    required_when_enabled = ("token_id", "token_secret")
    token_id: Text | None = None
    token_secret: Text | None = None
    api_version: Text | None = None


class AssemblyAIOptions(HttpService):
    required_when_enabled = ("api_key",)
    api_key: Text | None = None
    api_version: Text | None = None


class SlackOptions(HttpService):
    required_when_enabled = ("bot_token",)
    bot_token: Text | None = None


class YotpoOptions(HttpService):
    required_when_enabled = ("store_id", "secret")
    store_id: Text | None = None
    secret: Text | None = None
    api_version: Text | None = None


class LoopOptions(HttpService):
    required_when_enabled = ("api_key",)
    api_key: Text | None = None


class VercelOptions(HttpService):
    required_when_enabled = ("token",)
    token: Text | None = None
    project_id: Text | None = None
    team_id: Text | None = None
    deployment_stuck_min: PositiveFloat | None = None
    user_api_version: Text | None = None
    deployments_api_version: Text | None = None


class StatuspageOptions(ServiceConfig):
    #: name -> a Statuspage page's base URL
    pages: dict[str, RequiredHttpUrl] = Field(default_factory=dict)
    slack_status_url: HttpUrl = None
    page_timeout_s: PositiveFloat | None = None

    @classmethod
    def missing_when_enabled(cls, data: Mapping[str, Any]) -> list[tuple[str, str]]:
        if not data.get("pages") and _unset(data.get("slack_status_url")):
            return [("pages", "needs at least one status page (name: URL), or slack_status_url")]
        return []


class PrefectOptions(ServiceConfig):
    """The Prefect API healthmon's deployments run on. Without a `services.prefect` block, a
    Prefect API in PREFECT_API_URL turns the service on with that URL (`with_prefect_default`);
    a block of its own names its URL (`api_url: ${PREFECT_API_URL}` follows the environment)."""

    required_when_enabled = ("api_url",)
    #: the API root, e.g. http://127.0.0.1:4200/api
    api_url: HttpUrl = None
    #: Prefect Cloud's API key (a bearer token)
    api_key: Text | None = None
    #: the tag that marks healthmon's deployments (default healthmon)
    deployment_tag: Text | None = None
    #: a Scheduled run this far past its start counts as late (default 15, as Prefect's)
    late_after_s: PositiveFloat | None = None


#: every service by name, in the registry's order (monitors/registry.py; a test holds them equal)
SERVICE_MODELS: Mapping[str, type[ServiceConfig]] = {
    "postgres": PostgresOptions,
    "redis": RedisOptions,
    "shopify": ShopifyOptions,
    "stripe": StripeOptions,
    "inngest": InngestOptions,
    "meta_ads": MetaAdsOptions,
    "google_ads": GoogleAdsOptions,
    "tiktok_ads": TikTokAdsOptions,
    "wise": WiseOptions,
    "mcp": McpOptions,
    "mux": MuxOptions,
    "assemblyai": AssemblyAIOptions,
    "slack": SlackOptions,
    "yotpo": YotpoOptions,
    "loop": LoopOptions,
    "vercel": VercelOptions,
    "statuspage": StatuspageOptions,
    "prefect": PrefectOptions,
}


def with_prefect_default(
    services: Mapping[str, ServiceConfig], prefect_api_url: str | None
) -> dict[str, ServiceConfig]:
    """`services`, plus the `prefect` service on `prefect_api_url` when the config has no block
    of its own: healthmon watches the Prefect it runs on unless told not to (`enabled: false`).
    Raises ValueError when that URL is not one."""
    if "prefect" in services or not prefect_api_url:
        return dict(services)
    return {**services, "prefect": PrefectOptions.model_validate({"api_url": prefect_api_url})}


def unknown_service_message(name: str) -> str:
    return unknown_message("service", name, SERVICE_MODELS, list_known=True)


def metric_problem(service: str, metric: str, metrics: Mapping[str, Collection[str]]) -> str | None:
    """Why `services.<service>.thresholds.<metric>` names no metric the service's monitor emits."""
    known = metrics.get(service)
    if known is None or metric in known:
        return None
    return unknown_message(f"metric of {service}", metric, known, list_known=True)


def validate_services(raw: Any, metrics: Mapping[str, Collection[str]] | None) -> dict[str, ServiceConfig]:
    """Each entry by its own service's model; raises one ValidationError with every problem
    located under its service (`postgres.dsn`), so that all of them are reported at once."""
    if not isinstance(raw, Mapping):
        return raw  # the field's own type check reports it
    validated: dict[str, ServiceConfig] = {}
    errors: list[InitErrorDetails] = []
    for name, value in raw.items():
        model = SERVICE_MODELS.get(str(name))
        if model is None:
            errors.append(problem("unknown_service", (name,), unknown_service_message(str(name)), value))
            continue
        if isinstance(value, ServiceConfig):
            validated[name] = value
            continue
        # `stripe:` with nothing under it means the service with its defaults
        try:
            validated[name] = model.model_validate({} if value is None else value)
        except ValidationError as exc:
            errors += relocated(exc.errors(), (name,))
        if (
            metrics is not None
            and isinstance(value, Mapping)
            and isinstance(value.get("thresholds"), Mapping)
        ):
            for metric in value["thresholds"]:
                found = metric_problem(str(name), str(metric), metrics)
                if found is not None:
                    errors.append(problem("unknown_metric", (name, "thresholds", metric), found))
    if errors:
        raise ValidationError.from_exception_data("services", errors)
    return validated
