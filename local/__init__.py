"""The embedded local stack: the AWS emulator, provisioning, event pump, HTTP gateway.

It does what AWS does around the app (deliver S3 notifications, drive the SQS
event source mapping, route EventBridge rules, verify Cognito JWTs) so that
the app runs unchanged against the emulator.
"""
