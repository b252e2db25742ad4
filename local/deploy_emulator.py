"""The AWS emulator with what deploying docpipe needs of it and moto 5.2.5 lacks.

    python -m local.deploy_emulator [-H 127.0.0.1] [-p 4566]

The local stack (`make run`) does not deploy anything; rehearsing a deploy
does: `chalice deploy`, `aws cloudformation deploy` of the infra stack and of
the packaged SAM template. Where moto differs from AWS there, this module
closes the gap before starting moto's server (same arguments as
`python -m moto.server`), so the deploy commands and the tests that read a
deployment back run unchanged against it:

- API Gateway: moto imports only OpenAPI 3 and refuses the Swagger 2.0 that
  Chalice sends (and that SAM embeds as a RestApi Body): paths, methods and
  integrations go through moto's own importer, and the Swagger parts it has
  no notion of (Cognito authorizers and method security, binary media types,
  gateway responses) are applied here; `overwrite` mode replaces them, as on
  AWS. A RestApi's Body in a template is imported the same way, and
  AWS::ApiGateway::Stage is created.
- CloudFormation: the AWS::Serverless-2016-10-31 transform, which moto
  ignores (it would create nothing and report success), is applied with
  aws-sam-translator, the transform's published implementation; the
  default of a list parameter is a list, not a string; a TemplateURL on the
  emulator's IP address is read path-style; a stack made or updated by a
  change set (`aws cloudformation deploy`) has its template's outputs; and it
  creates Cognito user pools, clients, groups and domains, Secrets Manager
  secrets (GenerateSecretString), CloudWatch alarms and Lambda event invoke
  configs, which moto accepts without creating, and CloudFront distributions
  and origin access controls (through moto's CloudFront API; response headers
  policies, which moto lacks, get an id only). A template with a null value
  anywhere is refused, as CloudFormation refuses it ("'null' values are not
  allowed in templates"); moto would drop the key and deploy something else
  (a state machine's "ResultPath": null, for one).
- Step Functions: a state machine's definition given as a JSON object
  (`Definition`, which CloudFormation accepts) is created; moto reads only
  `DefinitionString`.
- IAM: a role's inline policy from a template reads back as JSON, as one put
  through the API does (moto keeps the template's dict and answers its repr).
- Lambda: ListEventSourceMappings by function name finds mappings made with
  the function's ARN (moto compares the strings).
- EventBridge and API Gateway: Ref of an event bus is its name, of a deployment
  its id (moto passes the model object on).
  A rule target that is a Lambda function raises in moto. The
  emulator cannot run functions, so the matched event is written to the log
  group /emulator/invocations/<function name>, where tests read which
  function an event reached.
"""

from __future__ import annotations

import copy
import json
import secrets
import string
import sys
import time
from typing import Any

from deploy import sam

INVOCATIONS_LOG_GROUP = "/emulator/invocations/"


# --- API Gateway: Swagger 2.0 ---------------------------------------------------------------------


def _swagger_to_openapi_paths(doc: dict[str, Any]) -> dict[str, Any]:
    """The part of a Swagger 2.0 document moto's OpenAPI importer reads (paths, methods, integrations)."""
    out = copy.deepcopy({k: v for k, v in doc.items() if k != "swagger"})
    out["openapi"] = "3.0.1"
    for methods in (out.get("paths") or {}).values():
        for method_doc in methods.values():
            integration = method_doc.get("x-amazon-apigateway-integration")
            if integration is not None:  # a MOCK integration (CORS preflight) has neither
                integration.setdefault("uri", "")
                integration.setdefault("httpMethod", "")
    return out


def _apply_swagger_extensions(backend: Any, api_id: str, doc: dict[str, Any], overwrite: bool) -> None:
    api = backend.get_rest_api(api_id)
    if overwrite:
        api.authorizers = {}
        api.gateway_responses = {}
    by_name = {a.name: a for a in api.authorizers.values()}
    for name, definition in (doc.get("securityDefinitions") or {}).items():
        spec = definition.get("x-amazon-apigateway-authorizer") or {}
        if not spec or name in by_name:
            continue
        kind = spec.get("type", "")
        by_name[name] = api.create_authorizer(
            authorizer_id=None,
            name=name,
            authorizer_type="COGNITO_USER_POOLS" if kind == "cognito_user_pools" else kind.upper(),
            provider_arns=spec.get("providerARNs"),
            auth_type=definition.get("x-amazon-apigateway-authtype"),
            authorizer_uri=spec.get("authorizerUri"),
            authorizer_credentials=spec.get("authorizerCredentials"),
            identity_source=f"method.request.header.{definition.get('name', 'Authorization')}",
            identiy_validation_expression=spec.get("identityValidationExpression"),
            authorizer_result_ttl=spec.get("authorizerResultTtlInSeconds"),
        )
    for path, methods in (doc.get("paths") or {}).items():
        resource = api.get_resource_for_path(path)
        for verb, method_doc in methods.items():
            method = resource.resource_methods.get(verb.upper()) if resource else None
            if method is None:
                continue
            names = [name for requirement in method_doc.get("security") or [] for name in requirement]
            if names and names[0] in by_name:
                authorizer = by_name[names[0]]
                method.authorization_type = authorizer.type
                method.authorizer_id = authorizer.id
            else:
                method.authorization_type = "NONE"
    media = doc.get("x-amazon-apigateway-binary-media-types")
    if media is not None:
        api.binaryMediaTypes = list(media)
    for kind, response in (doc.get("x-amazon-apigateway-gateway-responses") or {}).items():
        api.put_gateway_response(
            response_type=kind,
            status_code=response.get("statusCode"),
            response_parameters=response.get("responseParameters"),
            response_templates=response.get("responseTemplates"),
        )


def _patch_apigateway() -> None:
    from moto.apigateway import models

    backend_class = models.APIGatewayBackend
    original_put = backend_class.put_rest_api

    def put_rest_api(
        self: Any, function_id: str, api_doc: dict[str, Any], fail_on_warnings: bool, mode: str = "merge"
    ) -> Any:
        if str(api_doc.get("swagger", "")).startswith("2."):
            api = original_put(self, function_id, _swagger_to_openapi_paths(api_doc), False, mode)
            _apply_swagger_extensions(self, function_id, api_doc, mode == "overwrite")
            return api
        return original_put(self, function_id, api_doc, fail_on_warnings, mode)

    def import_rest_api(self: Any, api_doc: dict[str, Any], fail_on_warnings: bool) -> Any:
        info = api_doc.get("info") or {}
        api = self.create_rest_api(name=info.get("title", ""), description=info.get("description", ""))
        self.put_rest_api(api.id, api_doc, fail_on_warnings=fail_on_warnings)
        return api

    # Ref of an AWS::ApiGateway::Deployment is its id; moto hands the model object to whatever refers to it.
    models.Deployment.physical_resource_id = property(lambda self: self.id)  # type: ignore[attr-defined]
    backend_class.put_rest_api = put_rest_api  # type: ignore[method-assign]
    backend_class.import_rest_api = import_rest_api  # type: ignore[method-assign]

    original_create = models.RestAPI.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kw: Any
    ) -> Any:
        properties = dict(cloudformation_json.get("Properties") or {})
        body = properties.get("Body")
        if body is not None and "Name" not in properties:
            properties["Name"] = (body.get("info") or {}).get("title") or resource_name
        api = original_create(cls, resource_name, {**cloudformation_json, "Properties": properties}, account_id,
                              region_name, **kw)  # fmt: skip
        if body is not None:
            models.apigateway_backends[account_id][region_name].put_rest_api(api.id, body, False, "overwrite")
        for media in properties.get("BinaryMediaTypes") or []:
            api.binaryMediaTypes.append(media)
        return api

    models.RestAPI.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[method-assign,assignment]


# --- CloudFormation: resources moto accepts without creating ---------------------------------------


Created = tuple[str, dict[str, str]]
"""A created resource's physical id (what Ref returns) and attributes (what GetAtt returns)."""


def _user_pool(props: dict[str, Any], name: str, account: str, region: str) -> Created:
    from moto.cognitoidp.models import cognitoidp_backends

    config = {k: v for k, v in props.items() if k != "UserPoolName"}
    pool = cognitoidp_backends[account][region].create_user_pool(props.get("UserPoolName", name), config)
    url = f"https://cognito-idp.{region}.amazonaws.com/{pool.id}"
    return pool.id, {"Arn": pool.arn, "ProviderName": url[8:], "ProviderURL": url}


def _user_pool_client(props: dict[str, Any], name: str, account: str, region: str) -> Created:
    from moto.cognitoidp.models import cognitoidp_backends

    config = {k: v for k, v in props.items() if k != "UserPoolId"}
    client = cognitoidp_backends[account][region].create_user_pool_client(
        props["UserPoolId"], bool(props.get("GenerateSecret")), config
    )
    return client.id, {"ClientSecret": client.secret or ""}


def _user_pool_group(props: dict[str, Any], name: str, account: str, region: str) -> Created:
    from moto.cognitoidp.models import cognitoidp_backends

    group = cognitoidp_backends[account][region].create_group(
        props["UserPoolId"], props["GroupName"], props.get("Description", ""), props.get("RoleArn", ""),
        props.get("Precedence", 0),
    )  # fmt: skip
    return group.group_name, {}


def _user_pool_domain(props: dict[str, Any], name: str, account: str, region: str) -> Created:
    from moto.cognitoidp.models import cognitoidp_backends

    backend = cognitoidp_backends[account][region]
    backend.create_user_pool_domain(props["UserPoolId"], props["Domain"], props.get("CustomDomainConfig"))
    return props["Domain"], {}


def _secret(props: dict[str, Any], name: str, account: str, region: str) -> Created:
    from moto.secretsmanager.models import secretsmanager_backends

    value = props.get("SecretString")
    if value is None:
        value = _generate(props.get("GenerateSecretString") or {})
    created = secretsmanager_backends[account][region].create_secret(
        name=props.get("Name", name), secret_string=value, secret_binary=None, description=props.get("Description"),
        tags=props.get("Tags"), kms_key_id=props.get("KmsKeyId"), client_request_token=None, replica_regions=[],
        force_overwrite=False,
    )  # fmt: skip
    arn = json.loads(created)["ARN"]
    return arn, {"Id": arn}


def _alarm(p: dict[str, Any], name: str, account: str, region: str) -> Created:
    from moto.cloudwatch.models import cloudwatch_backends

    alarm = cloudwatch_backends[account][region].put_metric_alarm(
        name=p.get("AlarmName", name), namespace=p["Namespace"], metric_name=p["MetricName"],
        comparison_operator=p["ComparisonOperator"], evaluation_periods=int(p["EvaluationPeriods"]),
        period=int(p.get("Period", 60)), threshold=float(p.get("Threshold", 0)), statistic=p["Statistic"],
        description=p.get("AlarmDescription", ""),
        dimensions=[{"Name": d["Name"], "Value": d["Value"]} for d in p.get("Dimensions") or []],
        alarm_actions=list(p.get("AlarmActions") or []), treat_missing_data=p.get("TreatMissingData"),
    )  # fmt: skip
    return alarm.name, {"Arn": alarm.alarm_arn}


def _event_invoke_config(p: dict[str, Any], name: str, account: str, region: str) -> Created:
    from moto.awslambda.models import lambda_backends

    config = {k: v for k, v in p.items() if k not in ("FunctionName", "Qualifier")}
    lambda_backends[account][region].put_function_event_invoke_config(p["FunctionName"], config)
    return f"{p['FunctionName']}:{p.get('Qualifier', '$LATEST')}", {}


def _api_stage(p: dict[str, Any], name: str, account: str, region: str) -> Created:
    from moto.apigateway.models import apigateway_backends

    api = apigateway_backends[account][region].get_rest_api(p["RestApiId"])
    if p["StageName"] not in api.stages:
        api.create_stage(p["StageName"], p.get("DeploymentId", ""), p.get("Variables"), p.get("Description", ""),
                         None, None, None, p.get("TracingEnabled"))  # fmt: skip
    return p["StageName"], {}


def _items(values: list[Any]) -> dict[str, Any]:
    """A CloudFormation list as the CloudFront API spells it."""
    return {"Quantity": len(values), "Items": values}


def _origin_access_control(p: dict[str, Any], name: str, account: str, region: str) -> Created:
    from moto.cloudfront.models import cloudfront_backends

    control = cloudfront_backends[account]["aws"].create_origin_access_control(dict(p["OriginAccessControlConfig"]))
    return control.id, {"Id": control.id}


def _response_headers_policy(p: dict[str, Any], name: str, account: str, region: str) -> Created:
    # moto has no response headers policies: an id to refer to; tests read the policy from the template
    policy_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(32))
    return policy_id, {"Id": policy_id, "LastModifiedTime": "2026-01-01T00:00:00Z"}


def _distribution(p: dict[str, Any], name: str, account: str, region: str) -> Created:
    from moto.cloudfront.models import cloudfront_backends

    config = copy.deepcopy(p["DistributionConfig"])
    behavior = dict(config["DefaultCacheBehavior"])
    methods = behavior.pop("AllowedMethods", ["GET", "HEAD"])
    cached = behavior.pop("CachedMethods", ["GET", "HEAD"])
    behavior["AllowedMethods"] = {**_items(methods), "CachedMethods": _items(cached)}
    api = {
        "CallerReference": f"{name}-{secrets.token_hex(8)}",
        "Comment": config.get("Comment", ""),
        "Enabled": config.get("Enabled", True),
        "DefaultRootObject": config.get("DefaultRootObject", ""),
        "PriceClass": config.get("PriceClass", "PriceClass_All"),
        "HttpVersion": config.get("HttpVersion", "http2"),
        "IsIPV6Enabled": config.get("IPV6Enabled", True),
        "Origins": _items(config["Origins"]),
        "DefaultCacheBehavior": behavior,
        "ViewerCertificate": config.get("ViewerCertificate", {}),
    }
    dist, _, _ = cloudfront_backends[account]["aws"].create_distribution(api, [])
    return dist.distribution_id, {"DomainName": dist.domain_name, "Id": dist.distribution_id}


CREATED = {
    "AWS::Cognito::UserPool": _user_pool,
    "AWS::Cognito::UserPoolClient": _user_pool_client,
    "AWS::Cognito::UserPoolGroup": _user_pool_group,
    "AWS::Cognito::UserPoolDomain": _user_pool_domain,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::Lambda::EventInvokeConfig": _event_invoke_config,
    "AWS::ApiGateway::Stage": _api_stage,
    "AWS::CloudFront::OriginAccessControl": _origin_access_control,
    "AWS::CloudFront::ResponseHeadersPolicy": _response_headers_policy,
    "AWS::CloudFront::Distribution": _distribution,
}


_MODELS: list[type] = []


def _cloudformation_models() -> None:
    """One moto CloudFormation model per CREATED type (moto finds models among its base's direct subclasses)."""
    from moto.cloudformation import parsing
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.core.common_models import CloudFormationModel

    def model(type_name: str, create: Any) -> type:
        def __init__(self: Any, created: Created) -> None:
            self._physical_id, self._attributes = created

        def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
            if attribute_name in self._attributes:
                return self._attributes[attribute_name]
            raise UnformattedGetAttTemplateException()

        def create_from_cloudformation_json(
            cls: Any, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
            **kwargs: Any,
        ) -> Any:  # fmt: skip
            return cls(create(cloudformation_json.get("Properties") or {}, resource_name, account_id, region_name))

        return type(
            type_name.replace("::", ""),
            (CloudFormationModel,),
            {
                "__init__": __init__,
                "__module__": __name__,
                "physical_resource_id": property(lambda self: self._physical_id),
                "get_cfn_attribute": get_cfn_attribute,
                "has_cfn_attr": classmethod(lambda cls, attr: True),
                "cloudformation_type": staticmethod(lambda: type_name),
                "cloudformation_name_type": staticmethod(lambda: ""),
                "create_from_cloudformation_json": classmethod(create_from_cloudformation_json),
                "update_from_cloudformation_json": classmethod(lambda cls, original, *args, **kw: original),
                "delete_from_cloudformation_json": classmethod(lambda cls, *args, **kw: None),
            },
        )

    # __subclasses__ holds weak references: the models are kept here for the server's lifetime.
    _MODELS.extend(model(type_name, create) for type_name, create in CREATED.items())
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()


def _generate(spec: dict[str, Any]) -> str:
    """A value as Secrets Manager's GenerateSecretString would make it (length and character classes)."""
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    excluded = set(spec.get("ExcludeCharacters", ""))
    alphabet = "".join(c for c in alphabet if c not in excluded)
    value = "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
    template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
    if template and key:
        return json.dumps({**json.loads(template), key: value})
    return value


# --- CloudFormation: the Serverless transform ------------------------------------------------------


def null_path(value: Any, path: str = "") -> str | None:
    """Where the first null of a parsed template is (a JSON-pointer-like path), or None."""
    if value is None:
        return path or "/"
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = null_path(item, f"{path}/{key}")
        if found:
            return found
    return None


def refuse_nulls(template: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation validates a template before anything else and refuses any null value in it
    (a ValidationError: "Template format error: [/Resources/...] 'null' values are not allowed in
    templates"); moto would drop such keys silently."""
    from moto.cloudformation.exceptions import ValidationError

    found = null_path(template)
    if found:
        raise ValidationError(message=f"Template format error: [{found}] 'null' values are not allowed in templates")
    return template


def _patch_cloudformation() -> None:
    import ipaddress
    from urllib.parse import urlparse

    from moto.cloudformation import models, parsing, responses, utils

    original_fetch = utils.get_stack_from_s3_url

    def get_stack_from_s3_url(template_url: str, account_id: str, partition: str) -> str:
        url = urlparse(template_url)
        try:
            ipaddress.ip_address(url.hostname or "")
        except ValueError:
            return original_fetch(template_url, account_id, partition)
        # The emulator's own address, as `aws cloudformation deploy --s3-bucket` writes it: path-style.
        return original_fetch(f"http://localhost{url.path}", account_id, partition)

    responses.get_stack_from_s3_url = get_stack_from_s3_url

    original_load = parsing.ResourceMap.load_parameters

    def load_parameters(self: Any) -> None:
        original_load(self)
        for name, slot in (self._template.get("Parameters") or {}).items():
            kind, value = slot.get("Type", "String"), self.resolved_parameters.get(name)
            if (kind == "CommaDelimitedList" or kind.startswith("List<")) and isinstance(value, str):
                self.resolved_parameters[name] = value.split(",")
                self._parsed_resources[name] = self.resolved_parameters[name]

    parsing.ResourceMap.load_parameters = load_parameters  # type: ignore[method-assign]

    original_parse = models.Stack.parse_template

    def parse_template(template: str) -> dict[str, Any]:
        return sam.translate(refuse_nulls(original_parse(template)))

    models.Stack.parse_template = staticmethod(parse_template)  # type: ignore[method-assign]
    original_change_set = models.ChangeSet._parse_template

    def change_set_parse(self: Any) -> None:
        original_change_set(self)
        self.template_dict = sam.translate(refuse_nulls(self.template_dict))

    models.ChangeSet._parse_template = change_set_parse  # type: ignore[method-assign]
    original_execute = models.CloudFormationBackend.execute_change_set

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        original_execute(self, change_set_name, stack_name)
        for change_set in self.change_sets.values():
            if change_set_name in (change_set.change_set_id, change_set.change_set_name):
                stack = self.stacks[change_set.stack_id]
                stack.template_dict = change_set.template_dict
                stack.output_map = stack._create_output_map()
                stack.description = stack.template_dict.get("Description")

    models.CloudFormationBackend.execute_change_set = execute_change_set  # type: ignore[method-assign]


# --- EventBridge: Lambda targets -------------------------------------------------------------------


def _patch_events() -> None:
    from moto.events import models
    from moto.logs.models import logs_backends

    # Ref of an AWS::Events::EventBus is its name; moto hands the model object to whatever refers to it.
    models.EventBus.physical_resource_id = property(lambda self: self.name)  # type: ignore[attr-defined]

    original = models.Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        functions = [t for t in self.targets if ":lambda:" in t["Arn"]]
        if functions and self.event_pattern.matches_event(original_event):
            logs = logs_backends[self.account_id][self.region_name]
            for target in functions:
                name = target["Arn"].split(":function:", 1)[-1].split(":", 1)[0]
                group = INVOCATIONS_LOG_GROUP + name
                if group not in logs.groups:
                    logs.create_log_group(group, {})
                if "rule" not in logs.groups[group].streams:
                    logs.create_log_stream(group, "rule")
                message = json.dumps({"rule": self.name, "bus": self.event_bus_name, "event": original_event})
                logs.put_log_events(group, "rule", [{"timestamp": int(time.time() * 1000), "message": message}])
        others = [t for t in self.targets if ":lambda:" not in t["Arn"]]
        saved, self.targets = self.targets, others
        try:
            original(self, original_event, transform_input)
        finally:
            self.targets = saved

    models.Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


def _patch_lambda() -> None:
    from moto.awslambda import models

    original = models.LambdaBackend.list_event_source_mappings

    def list_event_source_mappings(self: Any, event_source_arn: str, function_name: str) -> Any:
        mappings = original(self, event_source_arn, "")
        if not function_name:
            return mappings
        wanted = function_name.split(":function:", 1)[-1].split(":", 1)[0]
        return [m for m in mappings if str(m.function_name).split(":function:", 1)[-1].split(":", 1)[0] == wanted]

    models.LambdaBackend.list_event_source_mappings = list_event_source_mappings  # type: ignore[method-assign]


def _patch_iam() -> None:
    from moto.iam import models

    original = models.Role.put_policy

    def put_policy(self: Any, policy_name: str, policy_json: Any) -> None:
        text = policy_json if isinstance(policy_json, str) else json.dumps(policy_json)
        original(self, policy_name, text)

    models.Role.put_policy = put_policy  # type: ignore[method-assign]


def _patch_stepfunctions() -> None:
    """A state machine's definition may be a JSON object (Definition), as on AWS; moto reads DefinitionString only."""
    from moto.stepfunctions import models

    original = models.StateMachine.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kw: Any
    ) -> Any:
        props = cloudformation_json.get("Properties") or {}
        if "Definition" in props and "DefinitionString" not in props:
            props = {**props, "DefinitionString": json.dumps(props["Definition"])}
            cloudformation_json = {**cloudformation_json, "Properties": props}
        return original(cls, resource_name, cloudformation_json, *args, **kw)

    models.StateMachine.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[method-assign,assignment]


def apply() -> None:
    _patch_stepfunctions()
    _patch_iam()
    _patch_lambda()
    _patch_apigateway()
    _cloudformation_models()
    _patch_cloudformation()
    _patch_events()


def main(argv: list[str] | None = None) -> None:
    apply()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    # moto's model metaclass names a model's service after its module: run the importable module, not __main__
    from local import deploy_emulator

    deploy_emulator.main()
