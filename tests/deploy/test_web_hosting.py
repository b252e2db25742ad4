"""The web app comes with the stack: a private bucket behind CloudFront, HTTPS only, security headers as a
response headers policy, config.json generated at deploy time, the site's origin wherever an origin is needed."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from deploy import configure
from deploy.templates import load_template
from deploy.web import content_security_policy, hosted_connect_sources, publish, site_files
from tests.deploy.conftest import INFRA_PARAMETERS, REGION, STAGE, clients

ACCOUNT = "123456789012"
SERVED_AS = {
    "index.html": "text/html; charset=utf-8",
    "js/main.js": "text/javascript; charset=utf-8",
    "css/app.css": "text/css; charset=utf-8",
    "config.json": "application/json; charset=utf-8",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def resource(template: dict[str, Any], name: str) -> dict[str, Any]:
    props: dict[str, Any] = template["Resources"][name]["Properties"]
    return props


def test_the_web_bucket_is_private_and_only_this_distribution_may_read_it(template: dict[str, Any]) -> None:
    bucket = resource(template, "WebBucket")
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    allow, deny = resource(template, "WebBucketPolicy")["PolicyDocument"]["Statement"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"} and allow["Action"] == "s3:GetObject"
    source = allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    assert source.endswith(":distribution/${WebDistribution}")  # this distribution, not any CloudFront user
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_distribution_serves_https_only_through_origin_access_control_with_the_headers_policy(
    template: dict[str, Any],
) -> None:
    config = resource(template, "WebDistribution")["DistributionConfig"]
    (origin,) = config["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["WebOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    assert behavior["ResponseHeadersPolicyId"] == {"Ref": "WebSecurityHeaders"}
    assert config["DefaultRootObject"] == "index.html"
    control = resource(template, "WebOriginAccessControl")["OriginAccessControlConfig"]
    assert (control["SigningBehavior"], control["SigningProtocol"]) == ("always", "sigv4")


def test_the_response_headers_policy_carries_the_same_csp_as_the_local_gateway(template: dict[str, Any]) -> None:
    headers = resource(template, "WebSecurityHeaders")["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    values = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "Stage": STAGE, "CognitoDomainPrefix": "pfx"}
    policy = headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    csp = re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], policy)
    assert csp == content_security_policy(hosted_connect_sources(REGION, STAGE, ACCOUNT, "pfx"))
    assert len(csp) <= 1783  # CloudFront's limit for this header's value
    assert all(h["Override"] for h in headers.values())
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000


def test_the_site_is_the_hosted_uis_callback_the_buckets_cors_origin_and_the_apis_cors_origin(infra_stack: Any) -> None:
    outputs = infra_stack["outputs"]
    site = outputs["WebUrl"]
    assert re.fullmatch(r"https://[a-z0-9]+\.cloudfront\.net", site)
    idp = infra_stack["aws"]["cognito-idp"]
    client = idp.describe_user_pool_client(UserPoolId=outputs["UserPoolId"], ClientId=outputs["UserPoolClientId"])
    assert client["UserPoolClient"]["CallbackURLs"][0] == f"{site}/"
    assert client["UserPoolClient"]["LogoutURLs"][0] == f"{site}/"
    # the emulator's CloudFormation does not apply a bucket's CORS rules: read them from the template
    (rule,) = resource(load_template(), "UploadsBucket")["CorsConfiguration"]["CorsRules"]
    site_first = [{"Fn::Sub": "https://${WebDistribution.DomainName}"}, {"Fn::Join": [",", {"Ref": "WebOrigins"}]}]
    assert rule["AllowedOrigins"] == {"Fn::Split": [",", {"Fn::Join": [",", site_first]}]}
    assert outputs["WebOrigins"] == f"{site},{INFRA_PARAMETERS['WebOrigins']}"
    stage = configure.Stage(STAGE, outputs)
    assert stage.environment()["DOCPIPE_WEB_ORIGIN"] == site


def test_publishing_uploads_the_app_and_a_generated_config_then_invalidates(infra_stack: Any) -> None:
    outputs = infra_stack["outputs"]
    aws = clients(infra_stack["endpoint"], "s3", "cloudfront")
    s3, cloudfront = aws["s3"], aws["cloudfront"]
    api = "https://abc123.execute-api.us-east-1.amazonaws.com/api/"
    bucket = outputs["WebBucketName"]
    s3.put_object(Bucket=bucket, Key="js/gone.js", Body=b"// a file the app no longer has")

    done = publish(s3, cloudfront, outputs, api)

    assert done.removed == ["js/gone.js"]
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == sorted([k for k, _ in site_files()] + ["config.json"])
    config = json.loads(s3.get_object(Bucket=bucket, Key="config.json")["Body"].read())
    assert config == {
        "api": api.rstrip("/"),
        "region": outputs["Region"],
        "user_pool_id": outputs["UserPoolId"],
        "client_id": outputs["UserPoolClientId"],
        "auth_domain": f"https://{outputs['HostedUiDomain']}",
        "redirect_uri": f"{outputs['WebUrl']}/",
        "logout_uri": f"{outputs['WebUrl']}/",
        "scopes": ["openid", "email", "profile"],
    }
    for key, expected in SERVED_AS.items():
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ContentType"] == expected and "s-maxage" in head["CacheControl"]
    batches = cloudfront.list_invalidations(DistributionId=outputs["WebDistributionId"])["InvalidationList"]
    assert any(i["Id"] == done.invalidation for i in batches.get("Items", []))
